import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect as tcpConnect, createServer as createTcpServer, type Socket as TcpSocket } from "node:net";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import express from "express";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, sessionRoom } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { createPushRouter, PushError, type PushRouterOptions } from "socket.io-session-auth/push";
import { createPushClient } from "socket.io-session-auth/push-client";
import { connect, startRealtime } from "../../support/realtime.js";
import { startWebApp, sessionIdOf } from "../../support/web-app.js";

const SECRET = "keyboard cat";
const TOKEN = "push-token-0123456789abcdef";
const OLD_TOKEN = "old-push-token-fedcba9876543210";
const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string; path?: string } };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer["body"] };
}

/** Collects every `event` a socket receives, with waiters for the next ones. */
function inbox(socket: ClientSocket, event = "message") {
  const received: unknown[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  socket.on(event, (data: unknown) => {
    received.push(data);
    for (const waiter of waiters.filter((w) => received.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return {
    received,
    /** Resolves once `count` events in all have arrived. */
    until: (count: number) =>
      received.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
  };
}

/** A marker push to `socket` itself: once it arrives, everything pushed before it (same node) has too. */
async function flush(
  base: string,
  socket: ClientSocket,
  box: ReturnType<typeof inbox>,
  event = "message",
): Promise<void> {
  const before = box.received.length;
  expect((await post(base, { to: { socket: socket.id }, event, data: "flush" })).status).toBe(202);
  await box.until(before + 1);
  expect(box.received.pop()).toBe("flush");
}

async function setup(options: Partial<PushRouterOptions> = {}) {
  const web = await startWebApp();
  opened.push(web);
  const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
  const realtime = await startRealtime((io) => io.use(auth));
  opened.push(realtime);
  const push = createPushRouter(realtime.io, { tokens: [TOKEN, OLD_TOKEN], auth, ...options });
  push.attach(realtime.http);
  opened.push(push);
  const base = `${realtime.url}/push`;
  /** Logs a user in over HTTP and opens `tabs` real sockets with that session. */
  const user = async (id: number | string, tabs = 1, options: { event?: string } = {}) => {
    const cookie = await web.login({ id });
    const sockets: ClientSocket[] = [];
    for (let i = 0; i < tabs; i++) {
      const socket = await connect(realtime.url, { cookie, transports: ["websocket"] });
      opened.push(socket);
      sockets.push(socket);
    }
    const sid = sessionIdOf(cookie);
    return { cookie, sid, sockets, boxes: sockets.map((socket) => inbox(socket, options.event)) };
  };
  return { web, auth, realtime, push, base, user };
}

describe("POST <path>: one message", () => {
  it("reaches every tab of the user and nobody else, with 202 { ok, id }", async () => {
    const { base, user } = await setup();
    const alice = await user(42, 2);
    const bob = await user(7);
    const answer = await post(base, { to: { user: "42" }, event: "order:shipped", data: { id: 7 } });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ ok: true, id: expect.any(String) });
    const shipped = alice.sockets.map((socket) => inbox(socket, "order:shipped"));
    const bobShipped = inbox(bob.sockets[0]!, "order:shipped");
    await post(base, { to: { user: 42 }, event: "order:shipped", data: { id: 8 } });
    await Promise.all(shipped.map((box) => box.until(1)));
    expect(shipped.map((box) => box.received)).toEqual([[{ id: 8 }], [{ id: 8 }]]);
    await flush(base, bob.sockets[0]!, bobShipped, "order:shipped");
    expect(bobShipped.received).toEqual([]);
  });

  it("sends `message` with null data by default", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    expect((await post(base, { to: { user: "1" } })).status).toBe(202);
    await alice.boxes[0]!.until(1);
    expect(alice.boxes[0]!.received).toEqual([null]);
  });

  it("gives a socket matched by several targets the message once", async () => {
    const { base, user, realtime } = await setup();
    const alice = await user(1);
    const socket = alice.sockets[0]!;
    realtime.io.in(socket.id!).socketsJoin("project:7");
    socket.on("twice", (_data: unknown, ack?: () => void) => ack?.());
    const box = inbox(socket, "twice");
    const answer = await post(base, {
      to: { user: ["1", 1], room: "project:7", socket: socket.id, session: alice.sid },
      ack: { timeout: 2000 },
      event: "twice",
      data: "once",
    });
    expect(answer.body).toMatchObject({ recipients: 1, acked: 1, complete: true });
    await flush(base, socket, box, "twice");
    expect(box.received).toEqual(["once"]);
  });

  it("reaches a session by its id, hashed into its room; the id never appears in the answer", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    const other = await user(1); // same user, another session
    const answer = await post(base, { to: { session: alice.sid }, data: "only this session", ack: { timeout: 2000 } });
    expect(JSON.stringify(answer.body)).not.toContain(alice.sid);
    await alice.boxes[0]!.until(1);
    expect(alice.boxes[0]!.received).toEqual(["only this session"]);
    await flush(base, other.sockets[0]!, other.boxes[0]!);
    expect(other.boxes[0]!.received).toEqual([]);
    expect(sessionRoom(alice.sid)).toMatch(/^session:[0-9a-f]{32}$/);
  });

  it("leaves out `except`, and reaches everyone with { all: true }", async () => {
    const { base, user } = await setup();
    const alice = await user(1, 2);
    const bob = await user(2);
    await post(base, { to: { all: true }, except: { socket: alice.sockets[1]!.id }, data: "hi" });
    await Promise.all([alice.boxes[0]!.until(1), bob.boxes[0]!.until(1)]);
    await flush(base, alice.sockets[1]!, alice.boxes[1]!);
    expect([alice.boxes[0]!.received, alice.boxes[1]!.received, bob.boxes[0]!.received]).toEqual([["hi"], [], ["hi"]]);
    await post(base, { to: { all: true }, except: { user: 1 }, data: "not alice" });
    await bob.boxes[0]!.until(2);
    await flush(base, alice.sockets[0]!, alice.boxes[0]!);
    expect(alice.boxes[0]!.received).toEqual(["hi"]);
  });
});

describe("acknowledgements", () => {
  it("answers 200 with recipients, acked and complete once every socket acknowledged", async () => {
    const { base, user } = await setup();
    const alice = await user(1, 2);
    for (const socket of alice.sockets) socket.on("ping?", (data: unknown, ack: (reply: unknown) => void) => ack(data));
    const answer = await post(base, { to: { user: "1" }, event: "ping?", data: 1, ack: { timeout: 5000 } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: true, id: expect.any(String), recipients: 2, acked: 2, complete: true });
  });

  it("gives a partial answer, not an error, when a socket does not acknowledge in time", async () => {
    const { base, user } = await setup();
    const alice = await user(1, 2);
    alice.sockets[0]!.on("ping?", (_data: unknown, ack: () => void) => ack());
    alice.sockets[1]!.on("ping?", () => {}); // received, never acknowledged
    const started = Date.now();
    const answer = await post(base, { to: { user: "1" }, event: "ping?", ack: { timeout: 300 } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: true, id: expect.any(String), recipients: 2, acked: 1, complete: false });
  });

  it("counts an offline user as recipients: 0, complete", async () => {
    const { base } = await setup();
    const answer = await post(base, { to: { user: "nobody" }, ack: { timeout: 1000 } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: true, id: expect.any(String), recipients: 0, acked: 0, complete: true });
  });
});

describe("idempotency", () => {
  it("answers a repeated Idempotency-Key with the first answer and emits nothing", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    const first = await post(base, { to: { user: "1" }, data: "once" }, { "idempotency-key": "order-7-shipped" });
    const again = await post(base, { to: { user: "1" }, data: "once" }, { "idempotency-key": "order-7-shipped" });
    expect(again).toMatchObject({ status: first.status, body: first.body });
    expect(first.body.id).toBe("order-7-shipped");
    await flush(base, alice.sockets[0]!, alice.boxes[0]!);
    expect(alice.boxes[0]!.received).toEqual(["once"]);
  });

  it("uses the message id the same way, also for concurrent repeats still waiting for acks", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    let acks = 0;
    alice.sockets[0]!.on("ping?", (_data: unknown, ack: () => void) => {
      acks++;
      setTimeout(ack, 50);
    });
    const message = { id: "m-1", to: { user: "1" }, event: "ping?", ack: { timeout: 2000 } };
    const answers = await Promise.all([post(base, message), post(base, message), post(base, message)]);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(answers[0]!.body).toEqual({ ok: true, id: "m-1", recipients: 1, acked: 1, complete: true });
    expect(acks).toBe(1);
  });

  it("emits again for a new key, and refuses a malformed key", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    await post(base, { to: { user: "1" }, data: "a" }, { "idempotency-key": "k-1" });
    await post(base, { to: { user: "1" }, data: "b" }, { "idempotency-key": "k-2" });
    await alice.boxes[0]!.until(2);
    expect(alice.boxes[0]!.received).toEqual(["a", "b"]);
    const bad = await post(base, { to: { user: "1" } }, { "idempotency-key": "x".repeat(201) });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "INVALID_MESSAGE", path: "headers.idempotency-key" });
  });

  it("forgets keys after the ttl", async () => {
    const { base, user } = await setup({ idempotency: { ttl: 100 } });
    const alice = await user(1);
    await post(base, { id: "short", to: { user: "1" }, data: 1 });
    await new Promise((resolve) => setTimeout(resolve, 150)); // the ttl itself is what is under test
    await post(base, { id: "short", to: { user: "1" }, data: 2 });
    await alice.boxes[0]!.until(2);
    expect(alice.boxes[0]!.received).toEqual([1, 2]);
  });
});

describe("POST <path>/batch", () => {
  it("runs the messages in order, one result per item", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    alice.sockets[0]!.on("acked", (_d: unknown, ack: () => void) => ack());
    const messages = Array.from({ length: 50 }, (_, i) => ({ to: { user: "1" }, data: i }));
    const answer = await post(`${base}/batch`, {
      messages: [...messages, { to: { user: "1" }, event: "acked", ack: { timeout: 2000 } }, { to: { user: "ghost" } }],
    });
    expect(answer.status).toBe(200);
    const results = answer.body.results as Array<Record<string, unknown>>;
    expect(results).toHaveLength(52);
    expect(results[0]).toEqual({ status: 202, ok: true, id: expect.any(String) });
    expect(results[50]).toEqual({
      status: 200,
      ok: true,
      id: expect.any(String),
      recipients: 1,
      acked: 1,
      complete: true,
    });
    await alice.boxes[0]!.until(50);
    expect(alice.boxes[0]!.received).toEqual(messages.map((m) => m.data));
  });

  it("checks every message before sending any, and names the bad one", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    const answer = await post(`${base}/batch`, {
      messages: [{ to: { user: "1" } }, { to: { user: "1" }, event: "disconnect" }],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: "RESERVED_EVENT", path: "messages[1].event" });
    await flush(base, alice.sockets[0]!, alice.boxes[0]!);
    expect(alice.boxes[0]!.received).toEqual([]);
    const tooMany = await post(`${base}/batch`, {
      messages: Array.from({ length: 101 }, () => ({ to: { user: "1" } })),
    });
    expect(tooMany.body.error).toMatchObject({ code: "TOO_MANY_MESSAGES", path: "messages" });
  });

  it("skips items whose id was already sent", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    await post(base, { id: "dup", to: { user: "1" }, data: "first" });
    const answer = await post(`${base}/batch`, {
      messages: [
        { id: "dup", to: { user: "1" }, data: "again" },
        { to: { user: "1" }, data: "new" },
      ],
    });
    expect((answer.body.results as Array<{ id: string }>)[0]!.id).toBe("dup");
    await alice.boxes[0]!.until(2);
    await flush(base, alice.sockets[0]!, alice.boxes[0]!);
    expect(alice.boxes[0]!.received).toEqual(["first", "new"]);
  });
});

describe("POST <path>/legacy", () => {
  it("takes { type, pointer, content } and emits `message`", async () => {
    const { base, user, realtime } = await setup();
    const alice = await user(5);
    const bob = await user(6);
    realtime.io.in(bob.sockets[0]!.id!).socketsJoin("lobby");
    expect((await post(`${base}/legacy`, { type: "single", pointer: 5, content: "to alice" })).status).toBe(202);
    expect((await post(`${base}/legacy`, { type: "room", pointer: "lobby", content: { to: "lobby" } })).status).toBe(
      202,
    );
    expect((await post(`${base}/legacy`, { type: "all", content: "everyone" })).status).toBe(202);
    await Promise.all([alice.boxes[0]!.until(2), bob.boxes[0]!.until(2)]);
    expect(alice.boxes[0]!.received).toEqual(["to alice", "everyone"]);
    expect(bob.boxes[0]!.received).toEqual([{ to: "lobby" }, "everyone"]);
    const bad = await post(`${base}/legacy`, { type: "user", pointer: 5 });
    expect(bad.body.error).toMatchObject({ code: "INVALID_MESSAGE", path: "type" });
  });
});

describe("disconnect, rooms, presence", () => {
  it("disconnects every socket of a user", async () => {
    const { base, user } = await setup();
    const alice = await user(1, 2);
    const bob = await user(2);
    const gone = alice.sockets.map((socket) => disconnection(socket));
    const answer = await post(`${base}/disconnect`, { to: { user: "1" } });
    expect(answer).toMatchObject({ status: 202, body: { ok: true } });
    expect(await Promise.all(gone)).toEqual(["io server disconnect", "io server disconnect"]);
    expect(bob.sockets[0]!.connected).toBe(true);
  });

  it("makes sockets join and leave rooms", async () => {
    const { base, user } = await setup();
    const alice = await user(1, 2);
    for (const socket of alice.sockets) socket.on("count", (_d: unknown, ack: () => void) => ack());
    expect((await post(`${base}/rooms/join`, { to: { user: "1" }, rooms: ["project:7", "team"] })).status).toBe(202);
    const reached = await post(base, { to: { room: "project:7" }, ack: { timeout: 2000 }, event: "count" });
    expect(reached.body).toMatchObject({ recipients: 2 });
    await post(`${base}/rooms/leave`, { to: { socket: alice.sockets[0]!.id }, rooms: "project:7" });
    expect(
      (await post(base, { to: { room: "project:7" }, ack: { timeout: 2000 }, event: "count" })).body,
    ).toMatchObject({ recipients: 1, acked: 1 });
    const bad = await post(`${base}/rooms/join`, { to: { user: "1" }, rooms: [] });
    expect(bad.body.error).toMatchObject({ code: "INVALID_MESSAGE", path: "rooms" });
  });

  it("counts each user's sockets", async () => {
    const { base, user } = await setup();
    await user(1, 3);
    await user("bob", 1);
    const answer = await post(`${base}/presence`, { users: [1, "bob", "carol", "__proto__"] });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: true, users: { 1: 3, bob: 1, carol: 0, ["__proto__"]: 0 } });
  });
});

describe("health and close()", () => {
  it("answers { ok: true } without a token, then 503 while shutting down", async () => {
    const { base, push, user } = await setup();
    await user(1);
    const healthy = await fetch(`${base}/health`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({ ok: true });
    await push.close();
    const closing = await fetch(`${base}/health`);
    expect(closing.status).toBe(503);
    expect(await closing.json()).toMatchObject({ ok: false, error: { code: "SHUTTING_DOWN" } });
    expect((await post(base, { to: { user: "1" } })).status).toBe(503);
    await expect(push.send({ to: { user: "1" } })).rejects.toMatchObject({ code: "SHUTTING_DOWN", status: 503 });
  });

  it("waits for pending acks before close() resolves", async () => {
    const { base, push, user } = await setup();
    const alice = await user(1);
    alice.sockets[0]!.on("slow", (_d: unknown, ack: () => void) => setTimeout(ack, 200));
    const pending = post(base, { to: { user: "1" }, event: "slow", ack: { timeout: 5000 } });
    await new Promise((resolve) => alice.sockets[0]!.once("slow", resolve));
    await push.close();
    expect((await pending).body).toMatchObject({ acked: 1, complete: true });
  });
});

describe("security", () => {
  it("gives the same 401 for a missing, a wrong and a malformed token; accepts every configured token", async () => {
    const { base } = await setup();
    const message = JSON.stringify({ to: { user: "1" } });
    const answers = await Promise.all(
      [
        undefined,
        "Bearer wrong-token-0123456789",
        `Basic ${TOKEN}`,
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        "Bearer",
      ].map(async (authorization) => {
        const res = await fetch(base, {
          method: "POST",
          headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
          body: message,
        });
        return { status: res.status, body: await res.text(), www: res.headers.get("www-authenticate") };
      }),
    );
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toMatchObject({ status: 401, www: 'Bearer realm="push"' });
    expect(JSON.parse(answers[0]!.body)).toEqual({
      ok: false,
      error: { code: "UNAUTHORIZED", message: "A valid bearer token is required." },
    });
    expect((await post(base, message, { authorization: `Bearer ${OLD_TOKEN}` })).status).toBe(202);
    expect((await post(base, message, { authorization: `bearer  ${TOKEN}` })).status).toBe(202);
  });

  it("refuses a token in the query string, even the right one", async () => {
    const { base } = await setup();
    for (const query of [`?token=${TOKEN}`, `?access_token=${TOKEN}`, "?x=1&TOKEN=abc"]) {
      const answer = await post(base + query, { to: { user: "1" } });
      expect(answer.status).toBe(400);
      expect(answer.body.error!.code).toBe("TOKEN_IN_QUERY");
    }
  });

  it("answers 404 for an unknown path or namespace and 405 for a wrong method", async () => {
    const { base } = await setup();
    expect((await post(`${base}/nope`, {})).body.error!.code).toBe("NOT_FOUND");
    expect((await post(`${base}/`, {})).status).toBe(404);
    const unknownNamespace = await post(base, { to: { user: "1" }, namespace: "/admin" });
    expect(unknownNamespace).toMatchObject({
      status: 404,
      body: { error: { code: "UNKNOWN_NAMESPACE", path: "namespace" } },
    });
    const get = await fetch(base, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await post(`${base}/health`, {})).status).toBe(405);
  });

  it("answers 415 to a body that is not application/json", async () => {
    const { base } = await setup();
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", ""]) {
      const res = await fetch(base, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": type },
        body: "{}",
      });
      expect(res.status).toBe(415);
      expect(((await res.json()) as Answer["body"]).error!.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    }
    expect(
      (await post(base, { to: { user: "1" } }, { "content-type": "Application/JSON; charset=UTF-8" })).status,
    ).toBe(202);
  });

  it("answers 400 to bad JSON, too deep JSON and bad fields, naming the field", async () => {
    const { base } = await setup();
    expect((await post(base, "{ nope")).body.error!.code).toBe("BAD_JSON");
    expect((await post(base, "")).body.error!.code).toBe("BAD_JSON");
    const deep = `{"to":{"user":"1"},"data":${"[".repeat(100)}${"]".repeat(100)}}`;
    expect((await post(base, deep)).body.error).toMatchObject({ code: "BAD_JSON" });
    const cases: Array<[unknown, string, string]> = [
      [[], "INVALID_MESSAGE", ""],
      [{ to: {} }, "INVALID_MESSAGE", "to"],
      [{ to: { user: [] } }, "INVALID_MESSAGE", "to.user"],
      [{ to: { user: ["1", {}] } }, "INVALID_MESSAGE", "to.user[1]"],
      [{ to: { all: true, user: "1" } }, "INVALID_MESSAGE", "to.user"],
      [{ to: { user: "1" }, evnt: "typo" }, "INVALID_MESSAGE", "evnt"],
      [{ to: { user: "1" }, event: "" }, "INVALID_MESSAGE", "event"],
      [{ to: { user: "1" }, event: "x".repeat(201) }, "INVALID_MESSAGE", "event"],
      [{ to: { user: "1" }, event: "connect" }, "RESERVED_EVENT", "event"],
      [{ to: { user: "1" }, ack: { timeout: 30_001 } }, "INVALID_MESSAGE", "ack.timeout"],
      [{ to: { user: Array.from({ length: 101 }, (_, i) => i) } }, "TOO_MANY_TARGETS", "to.user"],
      [
        {
          to: { user: Array.from({ length: 60 }, (_, i) => i) },
          except: { room: Array.from({ length: 41 }, (_, i) => `r${i}`) },
        },
        "TOO_MANY_TARGETS",
        "except.room",
      ],
    ];
    for (const [body, code, path] of cases) {
      const answer = await post(base, body);
      expect({ status: answer.status, code: answer.body.error!.code, path: answer.body.error!.path }).toEqual({
        status: 400,
        code,
        path,
      });
    }
  });

  it("accepts a body of exactly 1 MiB by default, and refuses one byte more", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    const envelope = JSON.stringify({ to: { user: "1" }, data: "" });
    const exact = JSON.stringify({ to: { user: "1" }, data: "x".repeat(1024 * 1024 - envelope.length) });
    expect(Buffer.byteLength(exact)).toBe(1024 * 1024);
    expect((await post(base, exact)).status).toBe(202);
    await alice.boxes[0]!.until(1);
    expect((alice.boxes[0]!.received[0] as string).length).toBe(1024 * 1024 - envelope.length);
    const over = await post(base, `${exact} `);
    expect(over).toMatchObject({ status: 413, body: { error: { code: "PAYLOAD_TOO_LARGE" } } });
  });

  it("refuses a declared Content-Length over the limit before reading the body (413)", async () => {
    const { realtime } = await setup({ maxBodyBytes: 1024 });
    const { port } = realtime.http.address() as AddressInfo;
    const socket = tcpConnect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(
      `POST /push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"to":`,
    );
    const answer = await readResponse(socket);
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe("close");
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
    socket.destroy();
  });

  it("cuts a chunked body as soon as it passes the limit (413), while it is still being sent", async () => {
    const { base } = await setup({ maxBodyBytes: 1024 });
    const url = new URL(base);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      });
      req.on("response", (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => resolve({ status: response.statusCode!, body }));
      });
      req.on("error", reject);
      // An endless body: chunks keep coming until the answer arrives.
      const pump = setInterval(() => req.write(`"${"x".repeat(500)}",`), 5);
      req.on("response", () => clearInterval(pump));
      req.on("close", () => clearInterval(pump));
      req.write('{"data":[');
    });
    expect(res.status).toBe(413);
  });

  it("cuts a slow body with 408 after readTimeout", async () => {
    const { realtime } = await setup({ readTimeout: 200 });
    const { port } = realtime.http.address() as AddressInfo;
    const socket = tcpConnect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(
      `POST /push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"to"`,
    );
    const started = Date.now();
    const answer = await readResponse(socket);
    expect(answer.status).toBe(408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "REQUEST_TIMEOUT" } });
    socket.destroy();
  });
});

describe("namespaces", () => {
  it("serves the namespaces it is given, and only those", async () => {
    const web = await startWebApp();
    opened.push(web);
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
    const realtime = await startRealtime((io) => io.of("/chat").use(auth));
    opened.push(realtime);
    const push = createPushRouter(realtime.io, { tokens: TOKEN, auth, namespaces: ["/", "/chat"] });
    push.attach(realtime.http);
    const cookie = await web.login({ id: 5 });
    const socket = await connect(realtime.url, { cookie, namespace: "/chat" });
    opened.push(socket);
    const box = inbox(socket);
    expect((await post(`${realtime.url}/push`, { to: { user: 5 }, namespace: "/chat", data: "in chat" })).status).toBe(
      202,
    );
    await box.until(1);
    expect(box.received).toEqual(["in chat"]);
    expect((await post(`${realtime.url}/push`, { to: { user: 5 }, namespace: "/admin" })).status).toBe(404);
    expect((await post(`${realtime.url}/push/presence`, { users: [5], namespace: "/chat" })).body).toEqual({
      ok: true,
      users: { 5: 1 },
    });
  });
});

describe("mounting", () => {
  it("works as Express middleware, after express.json() too, and passes other paths on", async () => {
    const web = await startWebApp();
    opened.push(web);
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
    const app = express();
    const realtime = await startRealtime((io) => io.use(auth));
    opened.push(realtime);
    const push = createPushRouter(realtime.io, { tokens: TOKEN, auth, path: "/internal/push" });
    app.use(express.json());
    app.use(push.handler);
    app.get("/other", (_req, res) => void res.json({ other: true }));
    const http = createServer(app);
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    opened.push({ close: () => new Promise((resolve) => http.close(resolve)) });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const cookie = await web.login({ id: 3 });
    const socket = await connect(realtime.url, { cookie });
    opened.push(socket);
    const box = inbox(socket);
    expect((await post(`${url}/internal/push`, { to: { user: 3 }, data: "via express" })).status).toBe(202);
    await box.until(1);
    expect(box.received).toEqual(["via express"]);
    expect(await (await fetch(`${url}/other`)).json()).toEqual({ other: true });
    expect((await post(`${url}/internal/push/nope`, {})).status).toBe(404);
  });

  it("attach() leaves socket.io and the server's other routes working", async () => {
    const realtime = await startRealtime(() => {});
    opened.push(realtime);
    realtime.http.on("request", (req, res) => {
      if (!req.url!.startsWith("/socket.io") && !req.url!.startsWith("/push")) res.end("app");
    });
    const push = createPushRouter(realtime.io, { tokens: TOKEN, rooms: false });
    push.attach(realtime.http);
    push.attach(realtime.http); // twice is once
    expect(await (await fetch(`${realtime.url}/elsewhere`)).text()).toBe("app");
    expect((await fetch(`${realtime.url}/push/health`)).status).toBe(200);
    const socket = await connect(realtime.url);
    opened.push(socket);
    const box = inbox(socket);
    expect((await post(`${realtime.url}/push`, { to: { socket: socket.id } })).status).toBe(202);
    await box.until(1);
    const noUsers = await post(`${realtime.url}/push`, { to: { user: "1" } });
    expect(noUsers.body.error).toMatchObject({ code: "INVALID_MESSAGE", path: "to.user" });
  });
});

describe("send(): the same validator and executor, in code", () => {
  it("resolves with the HTTP answers and rejects with PushError", async () => {
    const { push, user } = await setup();
    const alice = await user(1);
    alice.sockets[0]!.on("ping?", (_d: unknown, ack: () => void) => ack());
    const accepted = await push.send({ to: { user: 1 }, data: { n: 1 } });
    expect(accepted).toEqual({ ok: true, id: expect.any(String) });
    const delivered = await push.send({ to: { user: "1" }, event: "ping?", ack: { timeout: 2000 } });
    expect(delivered).toEqual({ ok: true, id: expect.any(String), recipients: 1, acked: 1, complete: true });
    await alice.boxes[0]!.until(1);
    expect(alice.boxes[0]!.received).toEqual([{ n: 1 }]);
    const refused = await push.send({ to: { user: "1" }, event: "disconnect" }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PushError);
    expect(refused).toMatchObject({ code: "RESERVED_EVENT", status: 400, path: "event" });
    await expect(push.send({ to: {} })).rejects.toMatchObject({ code: "INVALID_MESSAGE", path: "to" });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(push.send({ to: { user: "1" }, data: cyclic })).rejects.toMatchObject({
      code: "INVALID_MESSAGE",
      path: "data",
    });
  });

  it("keeps the order of calls that are not awaited", async () => {
    const { push, user } = await setup();
    const alice = await user(1);
    const sends = Array.from({ length: 20 }, (_, i) => push.send({ to: { user: "1" }, data: i }));
    await Promise.all(sends);
    await alice.boxes[0]!.until(20);
    expect(alice.boxes[0]!.received).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe("createPushClient", () => {
  it("sends, batches, joins, counts and disconnects", async () => {
    const { base, user } = await setup();
    const alice = await user(1, 2);
    const client = createPushClient({ url: base, token: TOKEN });
    expect(await client.send({ to: { user: 1 }, data: "hi" })).toEqual({ ok: true, id: expect.any(String) });
    const batch = await client.batch([
      { to: { user: 1 }, data: "b1" },
      { to: { user: 1 }, data: "b2" },
    ]);
    expect(batch.results.map((r) => r.status)).toEqual([202, 202]);
    await client.join({ to: { user: 1 }, rooms: "vip" });
    for (const socket of alice.sockets) socket.on("vip", (_d: unknown, ack: () => void) => ack());
    expect(await client.send({ to: { room: "vip" }, event: "vip", ack: { timeout: 2000 } })).toMatchObject({
      recipients: 2,
      acked: 2,
      complete: true,
    });
    expect(await client.presence([1, 2])).toEqual({ 1: 2, 2: 0 });
    expect(await client.health()).toEqual({ ok: true });
    await Promise.all(alice.boxes.map((box) => box.until(3)));
    expect(alice.boxes[0]!.received).toEqual(["hi", "b1", "b2"]);
    await client.leave({ to: { user: 1 }, rooms: "vip" });
    expect(await client.send({ to: { room: "vip" }, event: "vip", ack: { timeout: 2000 } })).toMatchObject({
      recipients: 0,
    });
    const gone = alice.sockets.map((socket) => disconnection(socket));
    await client.disconnect({ to: { user: 1 } });
    await Promise.all(gone);
  });

  it("rejects with PushError carrying the status and the server's code", async () => {
    const { base } = await setup();
    const client = createPushClient({ url: base, token: TOKEN });
    const refused = await client.send({ to: { user: "1" }, event: "connect" }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PushError);
    expect(refused).toMatchObject({ status: 400, code: "RESERVED_EVENT", path: "event", retryable: false });
    const wrong = createPushClient({ url: base, token: "not-the-token-at-all" });
    await expect(wrong.send({ to: { user: "1" } })).rejects.toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    const nowhere = createPushClient({ url: `${base}/nope`, token: TOKEN, retries: 0 });
    await expect(nowhere.health()).rejects.toMatchObject({ status: 404, code: "NOT_FOUND" });
  });

  it("retries a lost answer with the same Idempotency-Key: the user gets the message once", async () => {
    const { base, user, realtime } = await setup();
    const alice = await user(1);
    // A real TCP proxy in front of the router that drops the first two answers after the router handled the
    // request: the push happened, the sender never heard back.
    const { port } = realtime.http.address() as AddressInfo;
    const keys: string[] = [];
    let dropped = 0;
    const connections = new Set<TcpSocket>();
    const proxy = createTcpServer((downstream) => {
      const upstream = tcpConnect(port, "127.0.0.1");
      connections.add(downstream).add(upstream);
      downstream.on("data", (chunk: Buffer) => {
        const key = /idempotency-key: ([^\r\n]+)/i.exec(chunk.toString("latin1"));
        if (key) keys.push(key[1]!);
        upstream.write(chunk);
      });
      upstream.on("data", (chunk: Buffer) => {
        if (dropped < 2) {
          dropped++;
          downstream.destroy();
          upstream.destroy();
        } else downstream.write(chunk);
      });
      downstream.on("error", () => upstream.destroy());
      upstream.on("error", () => downstream.destroy());
      downstream.on("close", () => upstream.destroy());
    });
    proxy.listen(0, "127.0.0.1");
    await once(proxy, "listening");
    opened.push({
      close: () => {
        for (const socket of connections) socket.destroy();
        return new Promise((resolve) => proxy.close(resolve));
      },
    });
    const proxied = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${new URL(base).pathname}`;
    const client = createPushClient({ url: proxied, token: TOKEN, retries: 3 });
    const answer = await client.send({ to: { user: "1" }, data: "exactly once" });
    expect(answer.ok).toBe(true);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(answer.id).toBe(keys[0]);
    await flush(base, alice.sockets[0]!, alice.boxes[0]!);
    expect(alice.boxes[0]!.received).toEqual(["exactly once"]);
  });

  it("retries 5xx answers, then gives up with the last error", async () => {
    let calls = 0;
    const failing = createServer((_req, res) => {
      calls++;
      res
        .writeHead(503, { "content-type": "application/json" })
        .end(JSON.stringify({ ok: false, error: { code: "SHUTTING_DOWN", message: "bye" } }));
    });
    failing.listen(0, "127.0.0.1");
    await once(failing, "listening");
    opened.push({ close: () => new Promise((resolve) => failing.close(resolve)) });
    const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/push`;
    const client = createPushClient({ url, token: TOKEN, retries: 2 });
    await expect(client.send({ to: { user: "1" } })).rejects.toMatchObject({
      status: 503,
      code: "SHUTTING_DOWN",
      retryable: true,
    });
    expect(calls).toBe(3);
  });

  it("reports a refused connection as NETWORK_ERROR and a silent server as TIMEOUT", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createTcpServer();
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const refused = createPushClient({ url: `http://127.0.0.1:${closedPort}/push`, token: TOKEN, retries: 1 });
    await expect(refused.send({ to: { user: "1" } })).rejects.toMatchObject({ status: 0, code: "NETWORK_ERROR" });
    const held: TcpSocket[] = [];
    const silent = createTcpServer((socket) => void held.push(socket));
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    opened.push({
      close: () => {
        for (const socket of held) socket.destroy();
        return new Promise((resolve) => silent.close(resolve));
      },
    });
    const slow = createPushClient({
      url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/push`,
      token: TOKEN,
      timeout: 200,
      retries: 0,
    });
    await expect(slow.send({ to: { user: "1" } })).rejects.toMatchObject({ status: 0, code: "TIMEOUT" });
  });
});

describe("hostile input (issue 14)", () => {
  it("refuses a numeric user id that JSON rounds, on every endpoint, and the user it rounds to gets nothing", async () => {
    const { base, user, push } = await setup();
    // 12345678901234567890 parses as 12345678901234567000: someone else, who is online.
    const other = await user("12345678901234567000");
    const raw = (body: string) => post(base, body);
    const big = "12345678901234567890";
    const answers = [
      [await raw(`{"to":{"user":${big}},"data":"wrong person"}`), "to.user"],
      [await raw(`{"to":{"all":true},"except":{"user":[1,${big}]},"data":"wrong person"}`), "except.user[1]"],
      [
        await post(`${base}/batch`, `{"messages":[{"to":{"user":${big}},"data":"wrong person"}]}`),
        "messages[0].to.user",
      ],
      [await post(`${base}/legacy`, `{"type":"single","pointer":${big},"content":"wrong person"}`), "pointer"],
      [await post(`${base}/presence`, `{"users":["1",${big}]}`), "users[1]"],
    ] as const;
    for (const [answer, path] of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: "INVALID_MESSAGE", path });
    }
    await expect(push.send({ to: { user: 2 ** 60 }, data: "wrong person" })).rejects.toMatchObject({
      code: "INVALID_MESSAGE",
      status: 400,
      path: "to.user",
    });
    const client = createPushClient({ url: base, token: TOKEN });
    await expect(client.send({ to: { user: 2 ** 60 }, data: "wrong person" })).rejects.toMatchObject({
      code: "INVALID_MESSAGE",
      status: 400,
      path: "to.user",
    });
    await expect(client.send({ to: { user: 10n as unknown as number } })).rejects.toMatchObject({
      code: "INVALID_MESSAGE",
      status: 400,
    });
    await flush(base, other.sockets[0]!, other.boxes[0]!);
    expect(other.boxes[0]!.received).toEqual([]);
    // The exact id, as a string, reaches them.
    expect((await post(base, { to: { user: "12345678901234567000" }, data: "right person" })).status).toBe(202);
    await other.boxes[0]!.until(1);
    expect(other.boxes[0]!.received).toEqual(["right person"]);
  });

  it("refuses a repeated JSON key with DUPLICATE_KEY naming it, and sends nothing", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    const bob = await user(2);
    const cases = [
      [base, '{"to":{"user":"1"},"to":{"all":true},"data":"everyone?"}', "to"],
      [base, '{"to":{"all":true},"except":{"user":"2"},"except":{},"data":"bob too?"}', "except"],
      [base, '{"to":{"user":"1","user":"2"},"data":"which?"}', "to.user"],
      [`${base}/batch`, '{"messages":[{"to":{"user":"1"}},{"to":{"user":"1"},"data":1,"data":2}]}', "messages[1].data"],
      [`${base}/legacy`, '{"type":"single","type":"all","pointer":"1","content":"all?"}', "type"],
    ] as const;
    for (const [url, body, path] of cases) {
      const answer = await post(url, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: "DUPLICATE_KEY", path });
    }
    await flush(base, alice.sockets[0]!, alice.boxes[0]!);
    await flush(base, bob.sockets[0]!, bob.boxes[0]!);
    expect([alice.boxes[0]!.received, bob.boxes[0]!.received]).toEqual([[], []]);
  });

  it("answers a compressed body with 415 UNSUPPORTED_CONTENT_ENCODING and Accept-Encoding: identity", async () => {
    const { base, user } = await setup();
    const alice = await user(1);
    const body = JSON.stringify({ to: { user: "1" }, data: "zipped" });
    for (const [encoding, bytes] of [
      ["gzip", gzipSync(body)],
      ["deflate", deflateSync(body)],
      ["br", brotliCompressSync(body)],
      ["gzip", Buffer.from(body)],
    ] as const) {
      const res = await fetch(base, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "content-encoding": encoding },
        body: bytes,
      });
      expect(res.status).toBe(415);
      expect(res.headers.get("accept-encoding")).toBe("identity");
      expect(((await res.json()) as Answer["body"]).error).toMatchObject({ code: "UNSUPPORTED_CONTENT_ENCODING" });
    }
    expect((await post(base, body, { "content-encoding": "identity" })).status).toBe(202);
    await alice.boxes[0]!.until(1);
    await flush(base, alice.sockets[0]!, alice.boxes[0]!);
    expect(alice.boxes[0]!.received).toEqual(["zipped"]);
  });

  it("answers a key reused with another payload with 422 IDEMPOTENCY_KEY_REUSED and sends nothing", async () => {
    const { base, user, push } = await setup();
    const alice = await user(1);
    const bob = await user(2);
    const key = { "idempotency-key": "k-reused" };
    expect((await post(base, { to: { user: "1" }, event: "message", data: "first" }, key)).status).toBe(202);
    const other = await post(base, { to: { user: "2" }, event: "message", data: "first" }, key);
    expect(other.status).toBe(422);
    expect(other.body.error).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED" });
    expect((await post(base, { to: { user: "1" }, data: "changed" }, key)).status).toBe(422);
    // The same payload, targets in another order, is the same message: replayed, not sent.
    await post(base, { to: { user: ["1", "2"] }, data: "pair" }, { "idempotency-key": "k-pair" });
    expect(await post(base, { to: { user: ["2", "1"] }, data: "pair" }, { "idempotency-key": "k-pair" })).toMatchObject(
      { status: 202, body: { id: "k-pair" } },
    );
    // By `id`, in send(), in a batch item and for a whole batch.
    await push.send({ id: "m-reused", to: { user: "1" }, data: "by id" });
    await expect(push.send({ id: "m-reused", to: { user: "2" }, data: "by id" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_KEY_REUSED",
      status: 422,
    });
    const batch = await post(`${base}/batch`, {
      messages: [
        { id: "m-reused", to: { user: "2" }, event: "other" },
        { to: { user: "1" }, data: "fresh" },
      ],
    });
    expect(batch.status).toBe(200);
    expect((batch.body.results as unknown[])[0]).toEqual({
      status: 422,
      ok: false,
      id: "m-reused",
      error: { code: "IDEMPOTENCY_KEY_REUSED", message: expect.any(String) },
    });
    const batchKey = { "idempotency-key": "b-reused" };
    expect((await post(`${base}/batch`, { messages: [{ to: { user: "1" }, data: "b1" }] }, batchKey)).status).toBe(200);
    const again = await post(`${base}/batch`, { messages: [{ to: { user: "2" }, data: "b2" }] }, batchKey);
    expect(again.status).toBe(422);
    expect(again.body.error).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED" });
    const legacyKey = { "idempotency-key": "l-reused" };
    expect((await post(`${base}/legacy`, { type: "single", pointer: "1", content: "l1" }, legacyKey)).status).toBe(202);
    expect((await post(`${base}/legacy`, { type: "all", content: "l1" }, legacyKey)).status).toBe(422);
    // The client does not retry a 422.
    const client = createPushClient({ url: base, token: TOKEN });
    await expect(client.send({ to: { user: "2" } }, { idempotencyKey: "k-reused" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_KEY_REUSED",
      status: 422,
      retryable: false,
    });
    await flush(base, alice.sockets[0]!, alice.boxes[0]!);
    await flush(base, bob.sockets[0]!, bob.boxes[0]!);
    expect(alice.boxes[0]!.received).toEqual(["first", "pair", "by id", "fresh", "b1", "l1"]);
    expect(bob.boxes[0]!.received).toEqual(["pair"]);
  });
});

function disconnection(socket: ClientSocket): Promise<string> {
  return new Promise((resolve) => socket.once("disconnect", (reason) => resolve(reason)));
}

/** Reads one HTTP/1.1 response off a raw socket (Content-Length bodies only). */
async function readResponse(
  socket: TcpSocket,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  let buffer = "";
  for await (const chunk of socket) {
    buffer += (chunk as Buffer).toString("utf8");
    const end = buffer.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const [statusLine, ...lines] = buffer.slice(0, end).split("\r\n");
    const headers: IncomingHttpHeaders = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"]);
    if (buffer.length - end - 4 < length) continue;
    return { status: Number(statusLine!.split(" ")[1]), headers, body: buffer.slice(end + 4, end + 4 + length) };
  }
  throw new Error(`connection closed before a full response: ${JSON.stringify(buffer)}`);
}
