import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChatMessage, ChatReply, RoomMembers, Welcome } from "../../../examples/demo/live.js";
import { DEMO_ROOMS, type DemoRoom, type Notice, type PushReply } from "../../../examples/demo/protocol.js";
import { startDemo, type Demo } from "../../../examples/demo/server.js";
import { refusal } from "../../support/realtime.js";
import { cookieHeaderOf } from "../../support/cookies.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
// Kept on the server: the page pushes through /api/push and never sees it (asserted below).
const PUSH_TOKEN = "demo-test-push-token-0123456789abcdef";

let demo: Demo;
let origin: string;
const opened: Array<{ close(): unknown }> = [];

beforeEach(async () => {
  demo = await startDemo({ port: 0, secret: "demo test secret", pushToken: PUSH_TOKEN });
  origin = new URL(demo.url).origin;
});
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) each.close();
  await demo.close();
});

/** The login form as the page serves it: where it posts, and the name of its field. */
async function loginForm(): Promise<{ method: string; action: string; field: string }> {
  const html = await (await fetch(demo.url)).text();
  const form = /<form\b[^>]*\bid="login"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (form === null) throw new Error("the page has no login form");
  const attribute = (name: string) =>
    new RegExp(`\\b${name}="([^"]*)"`).exec(form[0].slice(0, form[0].indexOf(">")))?.[1];
  const field = /<input\b[^>]*\bname="([^"]+)"/.exec(form[1]!)?.[1];
  if (field === undefined) throw new Error("the login form has no named input");
  return { method: attribute("method") ?? "get", action: attribute("action") ?? "/", field };
}

/** What a browser does with the form: a urlencoded POST, then it follows the redirect with the cookie. */
async function submitLogin(name: string, cookie?: string): Promise<Response> {
  const form = await loginForm();
  return fetch(new URL(form.action, demo.url), {
    method: form.method.toUpperCase(),
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams({ [form.field]: name }),
    redirect: "manual",
  });
}

async function login(name: string): Promise<string> {
  const res = await submitLogin(name);
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/");
  const cookie = cookieHeaderOf(res);
  expect(cookie).toMatch(/^connect\.sid=s%3A/);
  return cookie;
}

async function logout(cookie: string): Promise<Response> {
  return fetch(new URL("/logout", demo.url), { method: "POST", headers: { cookie }, redirect: "manual" });
}

/** Fails with `what` instead of hanging until the test's timeout. */
function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A real socket.io-client that records every event (and connect_error, disconnect) from the start. */
interface Client {
  socket: ClientSocket;
  /** Resolves with the first recorded (or future) event of that name whose data passes `match`. */
  next<T>(event: string, match?: (data: T) => boolean): Promise<T>;
  /** Every event of that name recorded so far. */
  all<T>(event: string): T[];
}

function client(cookie: string | undefined): Client {
  const socket = ioClient(origin, {
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    extraHeaders: cookie === undefined ? {} : { cookie },
    autoConnect: false,
  });
  opened.push(socket);
  const seen: Array<{ event: string; data: unknown }> = [];
  const waiters = new Set<() => void>();
  const record = (event: string, data: unknown) => {
    seen.push({ event, data });
    for (const wake of waiters) wake();
  };
  socket.onAny((event: string, data: unknown) => record(event, data));
  socket.on("connect_error", (err: Error & { data?: unknown }) =>
    record("connect_error", { message: err.message, data: err.data }),
  );
  socket.on("disconnect", (reason) => record("disconnect", reason));
  // As the page does: acknowledge the router's pushes, which are sent with `ack`.
  socket.on("notice", (_notice: Notice, ack?: (seen: string) => void) => ack?.("seen"));
  socket.connect();
  return {
    socket,
    all: <T>(event: string) => seen.filter((each) => each.event === event).map((each) => each.data as T),
    next: <T>(event: string, match: (data: T) => boolean = () => true) =>
      within(
        new Promise<T>((resolve) => {
          let from = 0;
          const check = () => {
            for (; from < seen.length; from++) {
              const { event: name, data } = seen[from]!;
              if (name === event && match(data as T)) {
                waiters.delete(check);
                resolve(data as T);
                return;
              }
            }
          };
          waiters.add(check);
          check();
        }),
        `event "${event}"`,
      ),
  };
}

function ask<T>(socket: ClientSocket, event: string, ...args: unknown[]): Promise<T> {
  return socket.timeout(5000).emitWithAck(event, ...args) as Promise<T>;
}

describe("the demo (examples/demo)", () => {
  it("serves the page: a login form, the no-password note, and the socket.io client", async () => {
    const res = await fetch(demo.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).toContain("no passwords");
    expect(html).toContain('src="/socket.io/socket.io.js"');
    expect(html).toContain('id="state"');
    expect(await loginForm()).toEqual({ method: "post", action: "/login", field: "name" });
    // Quick logins as three users, each a plain form that works without the script too.
    expect(
      [
        ...html.matchAll(
          /<form class="quick-login" method="post" action="\/login"><input type="hidden" name="name" value="([^"]+)">/g,
        ),
      ].map((m) => m[1]),
    ).toEqual(["alice", "bob", "carol"]);
    // The rooms the page offers are the ones the server accepts, and the push form posts to the web side.
    expect([...html.matchAll(/<li data-room="([^"]+)"/g)].map((m) => m[1])).toEqual([...DEMO_ROOMS]);
    expect(html).toMatch(/<form id="push-form" method="post" action="\/api\/push">/);
    expect(html).toMatch(/<ol id="messages"[^>]*aria-live="polite"/);

    for (const [path, type] of [
      ["/app.js", /javascript/],
      ["/style.css", /text\/css/],
      ["/socket.io/socket.io.js", /javascript/],
    ] as const) {
      const asset = await fetch(new URL(path, demo.url));
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get("content-type"), path).toMatch(type);
      expect(await asset.text(), path).not.toContain(PUSH_TOKEN);
    }
    expect(html).not.toContain(PUSH_TOKEN);
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("logs in as the form does and the socket is identified as that user by the server", async () => {
    const res = await submitLogin("alice");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
    expect(res.headers.getSetCookie()[0]).toMatch(/; HttpOnly/i);
    const cookie = cookieHeaderOf(res);
    const me = await (await fetch(new URL("/api/me", demo.url), { headers: { cookie } })).json();
    expect(me).toMatchObject({ user: "alice" });

    const alice = client(cookie);
    const welcome = await alice.next<Welcome>("welcome");
    expect(welcome.userId).toBe("alice");
    expect(welcome.loggedInAt).toBeTypeOf("number");
    expect(await ask(alice.socket, "whoami")).toEqual({ userId: "alice", loggedInAt: welcome.loggedInAt });
  });

  it("refuses a socket without a session cookie with NO_SESSION_COOKIE", async () => {
    const failure = await refusal(origin);
    expect(failure).toEqual({
      message: "NO_SESSION_COOKIE",
      data: { code: "NO_SESSION_COOKIE", retryable: false },
      type: undefined,
    });
  });

  it("broadcasts chat with the sender taken from the server-side session, never from the client", async () => {
    const alice = client(await login("alice"));
    const bob = client(await login("bob"));
    await Promise.all([alice.next("welcome"), bob.next("welcome")]);

    const reply = await ask<ChatReply>(alice.socket, "chat:send", {
      text: "  hello from alice  ",
      from: "mallory",
      userId: "mallory",
    });
    expect(reply).toEqual({ ok: true, id: expect.any(Number) });
    const atBob = await bob.next<ChatMessage>("chat:message");
    const atAlice = await alice.next<ChatMessage>("chat:message");
    expect(atBob).toEqual({
      id: (reply as { id: number }).id,
      from: "alice",
      text: "hello from alice",
      at: expect.any(Number),
    });
    expect(atAlice).toEqual(atBob);

    expect(await ask(bob.socket, "chat:send", { text: "   " })).toEqual({ ok: false, error: expect.any(String) });
    expect(await ask(bob.socket, "chat:send", "not an object")).toEqual({ ok: false, error: expect.any(String) });
    expect(await ask(bob.socket, "chat:send", { text: "x".repeat(501) })).toEqual({
      ok: false,
      error: expect.any(String),
    });

    // A socket that connects later gets the recent history, senders included.
    const later = client(await login("carol"));
    expect((await later.next<Welcome>("welcome")).history).toEqual([atBob]);
  });

  it("sends per-user notices to user:<id> only, and who is online to everyone", async () => {
    const aliceCookie = await login("alice");
    const bob = client(await login("bob"));
    await bob.next<{ count: number }>("tabs", (tabs) => tabs.count === 1);
    const first = client(aliceCookie);
    await first.next<{ count: number }>("tabs", (tabs) => tabs.count === 1);
    const second = client(aliceCookie);

    await first.next<{ count: number }>("tabs", (tabs) => tabs.count === 2);
    await second.next<{ count: number }>("tabs", (tabs) => tabs.count === 2);
    await bob.next<Array<{ userId: string; tabs: number }>>(
      "online",
      (users) =>
        JSON.stringify(users) ===
        JSON.stringify([
          { userId: "alice", tabs: 2 },
          { userId: "bob", tabs: 1 },
        ]),
    );

    second.socket.close();
    await first.next<{ count: number }>("tabs", (tabs) => tabs.count === 1);
    await bob.next<Array<{ userId: string; tabs: number }>>(
      "online",
      (users) =>
        JSON.stringify(users) ===
        JSON.stringify([
          { userId: "alice", tabs: 1 },
          { userId: "bob", tabs: 1 },
        ]),
    );
    // Bob's own tab count went out once, when he connected: alice's notices are not his.
    expect(await ask(bob.socket, "whoami")).toMatchObject({ userId: "bob" });
    const bobTabs: unknown[] = [];
    bob.socket.on("tabs", (tabs) => bobTabs.push(tabs));
    client(aliceCookie);
    await first.next<{ count: number }>("tabs", (tabs) => tabs.count === 2);
    await ask(bob.socket, "whoami"); // a round trip after alice's notice went out
    expect(bobTabs).toEqual([]);
  });

  it("after logout drops the session's sockets, and their reconnect is refused with SESSION_NOT_FOUND", async () => {
    const cookie = await login("alice");
    const alice = client(cookie);
    const bob = client(await login("bob"));
    await Promise.all([alice.next("welcome"), bob.next("welcome")]);

    const res = await logout(cookie);
    expect(res.status).toBe(303);
    expect(await alice.next("disconnect")).toBe("io server disconnect");
    // What the page does then: connect again (a new connection, so a new handshake with the cookie).
    alice.socket.connect();
    expect(await alice.next("connect_error")).toEqual({
      message: "SESSION_NOT_FOUND",
      data: { code: "SESSION_NOT_FOUND", retryable: false },
    });
    expect(alice.socket.connected).toBe(false);

    // A fresh socket with the stale cookie is refused the same way; bob never noticed.
    expect(await refusal(origin, { cookie })).toMatchObject({
      message: "SESSION_NOT_FOUND",
      data: { code: "SESSION_NOT_FOUND", retryable: false },
    });
    expect(await ask(bob.socket, "whoami")).toMatchObject({ userId: "bob" });
    expect(await (await fetch(new URL("/api/me", demo.url), { headers: { cookie } })).json()).toMatchObject({
      user: null,
    });
  });

  it("logging in as someone else replaces the session and drops the old one's sockets", async () => {
    const asAlice = await login("alice");
    const alice = client(asAlice);
    await alice.next("welcome");

    const res = await submitLogin("bob", asAlice);
    expect(res.status).toBe(303);
    const asBob = cookieHeaderOf(res);
    expect(asBob).not.toBe(asAlice); // a new session id at login
    expect(await alice.next("disconnect")).toBe("io server disconnect");
    expect((await refusal(origin, { cookie: asAlice })).message).toBe("SESSION_NOT_FOUND");
    expect((await client(asBob).next<Welcome>("welcome")).userId).toBe("bob");
  });

  it("answers the page's script in JSON, and refuses bad names and cross-origin posts", async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(new URL("/login", demo.url), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", ...headers },
        body,
        redirect: "manual",
      });
    const ok = await post("name=dora");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true, user: "dora" });

    for (const body of ["name=", "name=%20%20", "name=%3Cscript%3E", `name=${"a".repeat(25)}`, "other=alice"]) {
      const bad = await post(body);
      expect(bad.status, body).toBe(400);
      expect(bad.headers.getSetCookie(), body).toEqual([]);
      expect(await bad.json(), body).toEqual({ ok: false, error: expect.any(String) });
    }

    const crossSite = await post("name=alice", { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.getSetCookie()).toEqual([]);
    await crossSite.arrayBuffer();
    const sameSite = await post("name=alice", { origin });
    expect(sameSite.status).toBe(200);
    await sameSite.arrayBuffer();
  });
});

/** What the page's script does: a urlencoded POST asking for JSON. */
function postForm(
  path: string,
  cookie: string | undefined,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(new URL(path, demo.url), {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      ...(cookie ? { cookie } : {}),
      ...headers,
    },
    body: new URLSearchParams(fields),
    redirect: "manual",
  });
}

async function pushAs(cookie: string, fields: Record<string, string>): Promise<PushReply> {
  const res = await postForm("/api/push", cookie, fields);
  expect(res.status).toBe(200);
  return (await res.json()) as PushReply;
}

async function setRoom(cookie: string, action: "join" | "leave", room: DemoRoom): Promise<DemoRoom[]> {
  const res = await postForm(`/api/rooms/${action}`, cookie, { room });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { ok: true; rooms: DemoRoom[] };
  expect(body.ok).toBe(true);
  return body.rooms;
}

/** After one round trip on each socket, every notice already emitted to it has arrived. */
async function settle(...clients: Client[]): Promise<void> {
  await Promise.all(clients.map((each) => ask(each.socket, "whoami")));
}

const texts = (each: Client) => each.all<Notice>("notice").map((notice) => notice.text);

describe("the push form (POST /api/push, through the push router)", () => {
  it("pushes to every socket of a user, with the sender from the session, and reports the acks", async () => {
    const aliceCookie = await login("alice");
    const alice1 = client(aliceCookie);
    const alice2 = client(aliceCookie);
    const bobCookie = await login("bob");
    const bob = client(bobCookie);
    await Promise.all([alice1.next("welcome"), alice2.next("welcome"), bob.next("welcome")]);

    // `from` in the body is ignored: the sender is the session's user.
    const reply = await pushAs(bobCookie, {
      target: "user",
      user: "alice",
      text: "  your order shipped  ",
      from: "mallory",
    });
    expect(reply).toEqual({ ok: true, id: expect.any(String), recipients: 2, acked: 2, complete: true });
    for (const each of [alice1, alice2]) {
      const notice = await each.next<Notice>("notice");
      expect(notice).toEqual({
        id: (reply as { id: string }).id,
        from: "bob",
        to: { kind: "user", name: "alice" },
        text: "your order shipped",
        at: expect.any(Number),
      });
    }
    await settle(bob);
    expect(bob.all("notice")).toEqual([]);

    // Nobody online under that name: delivered to no one, which is an answer, not an error.
    expect(await pushAs(bobCookie, { target: "user", user: "dora", text: "anyone?" })).toMatchObject({
      ok: true,
      recipients: 0,
      acked: 0,
      complete: true,
    });
  });

  it("pushes to a room's members only, and to everyone", async () => {
    const aliceCookie = await login("alice");
    const alice = client(aliceCookie);
    const bobCookie = await login("bob");
    const bob = client(bobCookie);
    const carol = client(await login("carol"));
    await Promise.all([alice.next("welcome"), bob.next("welcome"), carol.next("welcome")]);
    await setRoom(aliceCookie, "join", "releases");
    await setRoom(bobCookie, "join", "general");

    // Carol is in no room and may still push to one.
    const carolCookie = await login("carol"); // a second session of carol's, for pushing
    expect(await pushAs(carolCookie, { target: "room", room: "releases", text: "v2 is out" })).toMatchObject({
      recipients: 1,
      acked: 1,
    });
    expect(await alice.next<Notice>("notice")).toMatchObject({
      from: "carol",
      to: { kind: "room", name: "releases" },
      text: "v2 is out",
    });
    expect(await pushAs(carolCookie, { target: "all", text: "deploy done" })).toMatchObject({
      recipients: 3,
      acked: 3,
    });
    await Promise.all(
      [alice, bob, carol].map((each) => each.next<Notice>("notice", (notice) => notice.text === "deploy done")),
    );
    await settle(alice, bob, carol);
    expect(texts(alice)).toEqual(["v2 is out", "deploy done"]);
    expect(texts(bob)).toEqual(["deploy done"]);
    expect((await carol.next<Notice>("notice")).to).toEqual({ kind: "all" });
  });

  it("refuses pushes without a session, bad targets and texts, cross-origin posts and floods", async () => {
    expect((await postForm("/api/push", undefined, { target: "all", text: "hi" })).status).toBe(401);
    const cookie = await login("alice");
    const watcher = client(cookie);
    await watcher.next("welcome");
    const refused: Array<Record<string, string>> = [
      { target: "user", user: "", text: "hi" },
      { target: "user", user: "<script>", text: "hi" },
      { target: "room", room: "user:bob", text: "hi" }, // only the demo's rooms, never a user's or a session's
      { target: "room", room: "nowhere", text: "hi" },
      { target: "everyone", text: "hi" },
      { text: "hi" },
      { target: "all", text: "   " },
      { target: "all", text: "x".repeat(281) },
    ];
    for (const fields of refused) {
      const res = await postForm("/api/push", cookie, fields);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(await res.json(), JSON.stringify(fields)).toEqual({ ok: false, error: expect.any(String) });
    }
    const crossSite = await postForm(
      "/api/push",
      cookie,
      { target: "all", text: "hi" },
      { origin: "https://evil.example" },
    );
    expect(crossSite.status).toBe(403);
    await crossSite.arrayBuffer();
    await settle(watcher);
    expect(watcher.all("notice")).toEqual([]); // nothing refused went out

    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await postForm("/api/push", cookie, { target: "all", text: `n${i}` });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([...Array(10).fill(200), 429]);
  });

  it("serves the push router itself on POST /push, for a bearer of the demo's token only", async () => {
    const alice = client(await login("alice"));
    await alice.next("welcome");
    const send = (token: string) =>
      fetch(demo.pushUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        // The README's curl example.
        body: JSON.stringify({ to: { user: "alice" }, event: "notice", data: { text: "Hello from curl" } }),
      });
    const wrong = await send("not-the-demo-token-0123456789");
    expect(wrong.status).toBe(401);
    await wrong.arrayBuffer();
    const right = await send(PUSH_TOKEN);
    expect(right.status).toBe(202);
    expect(await right.json()).toEqual({ ok: true, id: expect.any(String) });
    expect(await alice.next("notice")).toEqual({ text: "Hello from curl" });
    expect(demo.pushUrl).toBe(`${demo.url}push`);
    // The web app and socket.io still answer beside it.
    expect((await fetch(new URL("/api/me", demo.url))).status).toBe(200);
  });
});

describe("rooms (POST /api/rooms/join and /leave, kept in the session)", () => {
  it("moves every open socket of the session, tells its tabs and everyone, and a later socket joins at its handshake", async () => {
    const cookie = await login("alice");
    const tab1 = client(cookie);
    const tab2 = client(cookie);
    const otherAlice = client(await login("alice")); // alice in another browser: another session
    const bob = client(await login("bob"));
    await Promise.all([tab1, tab2, otherAlice, bob].map((each) => each.next("welcome")));

    expect(await setRoom(cookie, "join", "random")).toEqual(["random"]);
    expect(await setRoom(cookie, "join", "general")).toEqual(["general", "random"]); // in the page's order
    await tab2.next<DemoRoom[]>("rooms:mine", (rooms) => rooms.length === 2);
    await bob.next<RoomMembers>(
      "rooms",
      (rooms) =>
        JSON.stringify(rooms) ===
        JSON.stringify([
          { room: "general", members: ["alice"] },
          { room: "releases", members: [] },
          { room: "random", members: ["alice"] },
        ]),
    );
    expect(await (await fetch(new URL("/api/me", demo.url), { headers: { cookie } })).json()).toMatchObject({
      user: "alice",
      rooms: ["general", "random"],
    });

    const bobCookie = await login("bob");
    expect(await pushAs(bobCookie, { target: "room", room: "general", text: "to general" })).toMatchObject({
      recipients: 2,
    });
    await Promise.all([tab1, tab2].map((each) => each.next<Notice>("notice")));

    const later = client(cookie);
    expect((await later.next<Welcome>("welcome")).rooms).toEqual(["general", "random"]);
    // Joined at its handshake, from the session, before any other change of rooms.
    expect(await pushAs(bobCookie, { target: "room", room: "general", text: "later too" })).toMatchObject({
      recipients: 3,
    });
    expect(await later.next<Notice>("notice")).toMatchObject({ text: "later too" });

    expect(await setRoom(cookie, "leave", "general")).toEqual(["random"]);
    await tab1.next<DemoRoom[]>("rooms:mine", (rooms) => rooms.length === 1);
    expect(await pushAs(bobCookie, { target: "room", room: "general", text: "again" })).toMatchObject({
      recipients: 0,
    });
    expect(await pushAs(bobCookie, { target: "room", room: "random", text: "random" })).toMatchObject({
      recipients: 3,
    });
    await settle(otherAlice);
    expect(otherAlice.all("notice")).toEqual([]); // the other session joined nothing
    expect(otherAlice.all("rooms:mine")).toEqual([]);
  });

  it("ends with the session: after logout and a new login, no rooms", async () => {
    const cookie = await login("alice");
    await setRoom(cookie, "join", "releases");
    expect((await logout(cookie)).status).toBe(303);
    const again = await login("alice");
    expect(await (await fetch(new URL("/api/me", demo.url), { headers: { cookie: again } })).json()).toMatchObject({
      user: "alice",
      rooms: [],
    });
    expect((await client(again).next<Welcome>("welcome")).rooms).toEqual([]);
  });

  it("refuses without a session, unknown rooms and actions, and cross-origin posts", async () => {
    expect((await postForm("/api/rooms/join", undefined, { room: "general" })).status).toBe(401);
    const cookie = await login("alice");
    for (const room of ["user:bob", "session:x", "nowhere", ""]) {
      const res = await postForm("/api/rooms/join", cookie, { room });
      expect(res.status, room).toBe(400);
      expect(await res.json(), room).toEqual({ ok: false, error: expect.any(String) });
    }
    const unknown = await postForm("/api/rooms/toggle", cookie, { room: "general" });
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
    const crossSite = await postForm(
      "/api/rooms/join",
      cookie,
      { room: "general" },
      { origin: "https://evil.example" },
    );
    expect(crossSite.status).toBe(403);
    await crossSite.arrayBuffer();
    expect(await (await fetch(new URL("/api/me", demo.url), { headers: { cookie } })).json()).toMatchObject({
      rooms: [],
    });
  });
});

describe("startDemo", () => {
  it("validates its options and reports a port in use", async () => {
    await expect(startDemo({ port: -1 })).rejects.toThrow(/`port`/);
    await expect(startDemo({ port: 1.5 })).rejects.toThrow(TypeError);
    await expect(startDemo({ port: 0, secret: "" })).rejects.toThrow(/`secret`/);
    const short = startDemo({ port: 0, pushToken: "short-token" });
    await expect(short).rejects.toThrow(TypeError);
    await expect(short).rejects.toThrow(/`pushToken`/);
    await expect(short).rejects.not.toThrow(/short-token/); // never echoed
    const taken = Number(new URL(demo.url).port);
    await expect(startDemo({ port: taken })).rejects.toMatchObject({ code: "EADDRINUSE" });
    expect((await fetch(demo.url)).status).toBe(200); // the first one is unharmed
  });
});

describe("npm start (tsx examples/demo/server.ts)", () => {
  const TSX = join(ROOT, "node_modules/tsx/dist/cli.mjs");

  it("runs the library from its sources: tsx maps the public names through tsconfig paths", async () => {
    // Without the paths mapping, Node would resolve the package's own name to dist/, maybe stale or absent.
    const script =
      'console.log(import.meta.resolve("socket.io-session-auth") + " " + import.meta.resolve("socket.io-session-auth/memory"))';
    const child = spawn(process.execPath, [TSX, "--input-type=module", "-e", script], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    expect(
      output
        .trim()
        .split(" ")
        .map((url) => fileURLToPath(url)),
    ).toEqual([join(ROOT, "src/index.ts"), join(ROOT, "adapters/memory/index.ts")]);
  });

  it("listens on PORT, prints the URL to open, serves the page and stops on SIGTERM", async () => {
    // What `npm start` runs, minus npm: the tsx CLI on the demo's entry point.
    const child = spawn(process.execPath, [TSX, "examples/demo/server.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", SESSION_SECRET: "", PUSH_TOKEN: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = once(child, "exit");
    try {
      let output = "";
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          output += chunk;
          const found = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
          if (found && output.includes("Ctrl+C to stop")) resolve(found[1]!); // the whole banner is out
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
        child.once("exit", (code) =>
          reject(new Error(`the demo exited (${code}) before printing its URL:\n${output}`)),
        );
      });
      expect(output).toContain("SESSION_SECRET is not set");
      expect(output).toContain(`Push router: POST ${url}push needs a token; set PUSH_TOKEN`);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('action="/login"');
    } finally {
      child.kill("SIGTERM");
    }
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
