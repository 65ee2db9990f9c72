import session from "express-session";
import type { Server, Socket } from "socket.io";
import { Manager } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, SessionAuthError, type SessionAuthOptions, type SessionData } from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";
import { memoryStore, type ExpressSessionStoreLike } from "socket.io-session-auth/memory";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { ask, connect, ending, serveLifecycle, startRealtime } from "../../support/realtime.js";
import { sessionIdOf, startWebApp, type WebApp } from "../../support/web-app.js";

// The session lifecycle on one node, against real express-session (its MemoryStore, shared in process),
// a real socket.io server and socket.io-client over loopback.

const SECRET = "keyboard cat";
const closers: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of closers.splice(0).reverse()) await each.close();
});

/** Counts the store lookups the lifecycle makes, by delegating to express-session's real MemoryStore. */
function counted(store: session.Store): ExpressSessionStoreLike & { reads: number } {
  const wrapper = {
    reads: 0,
    get(sid: string, callback: (err: unknown, session?: unknown) => void) {
      wrapper.reads++;
      store.get(sid, callback as never);
    },
  };
  return wrapper;
}

async function setup(options: Partial<SessionAuthOptions> = {}, web?: WebApp) {
  const app = web ?? (await startWebApp());
  if (web === undefined) closers.push(app);
  const ends: SessionAuthError[] = [];
  const auth = sessionAuth({
    store: memoryStore(app.store),
    secret: SECRET,
    onSessionEnd: (error) => ends.push(error),
    ...options,
  });
  closers.push({ close: () => auth.close() });
  let io!: Server;
  const realtime = await startRealtime((server) => {
    io = server;
    auth.attach(server);
    serveLifecycle(server, auth);
    server.on("connection", (socket: Socket) => {
      socket.on("whoami", (ack: (value: unknown) => void) =>
        ack({ userId: socket.data.userId, session: socket.data.session }),
      );
    });
  });
  closers.push(realtime);
  const open = async (cookie: string, namespace = "/") => {
    const socket = await connect(realtime.url, { cookie, namespace, transports: ["websocket"] });
    closers.push(socket);
    return socket;
  };
  return { web: app, auth, io, realtime, ends, open };
}

describe("ending a session: endSession and endUser", () => {
  it("logout: endSession ends every socket of the session (every tab, every namespace) and no other", async () => {
    const { web, auth, io, ends, open } = await setup();
    io.of("/chat"); // attach() wired it
    const cookie = await web.login({ id: 1 });
    const tab1 = await open(cookie);
    const tab2 = await open(cookie);
    const chat = await open(cookie, "/chat");
    const other = await open(await web.login({ id: 2 }));

    const seen = [tab1, tab2, chat].map((socket) => ending(socket));
    await web.logout(cookie);
    // One node (socket.io's in-memory adapter): nothing to confirm but this node's own sockets.
    expect(await auth.endSession(io, sessionIdOf(cookie))).toEqual({ nodes: 1, acknowledged: 1, complete: true });
    for (const end of await Promise.all(seen))
      expect(end).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    expect(ends.map((error) => error.code)).toEqual(["SESSION_NOT_FOUND", "SESSION_NOT_FOUND", "SESSION_NOT_FOUND"]);
    expect(other.connected).toBe(true);
    expect(await ask(other, "whoami")).toMatchObject({ userId: "2" });
  });

  it("a session with many tabs (past 32, where its sockets move from a list to a Set): tabs that left are forgotten, the others all end", async () => {
    const { web, auth, io, ends, open } = await setup();
    const cookie = await web.login({ id: 41 });
    const tabs = await Promise.all(Array.from({ length: 40 }, () => open(cookie)));
    // Ten leave on their own, some before the switch's threshold and some after.
    const leaving = [0, 3, 7, 15, 20, 31, 32, 35, 38, 39];
    await Promise.all(
      leaving.map((index) => {
        const socket = tabs[index]!;
        const gone = new Promise((resolve) => socket.once("disconnect", resolve));
        socket.close();
        return gone;
      }),
    );
    await expect.poll(() => io.of("/").sockets.size).toBe(30);
    const staying = tabs.filter((_, index) => !leaving.includes(index));
    const seen = staying.map((socket) => ending(socket));
    await web.logout(cookie);
    await auth.endSession(io, sessionIdOf(cookie));
    for (const end of await Promise.all(seen))
      expect(end).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    // Only the 30 that stayed were ended; the 10 that left were no longer followed.
    expect(ends).toHaveLength(30);
    expect(io.of("/").sockets.size).toBe(0);
  });

  it("endUser ends every session of a user with the code given; the session id never reaches a client", async () => {
    const { web, auth, io, open } = await setup();
    const first = await open(await web.login({ id: "u7" }));
    const second = await open(await web.login({ id: "u7" }));
    const stranger = await open(await web.login({ id: "u8" }));
    const seen = [first, second].map((socket) => ending(socket));
    expect(await auth.endUser(io, "u7", "FORBIDDEN")).toEqual({ nodes: 1, acknowledged: 1, complete: true });
    expect(await Promise.all(seen)).toEqual([
      { event: { code: "FORBIDDEN" }, reason: "io server disconnect" },
      { event: { code: "FORBIDDEN" }, reason: "io server disconnect" },
    ]);
    expect(stranger.connected).toBe(true);
  });

  it("works with rooms: false, a custom endEvent, and endEvent: false", async () => {
    const custom = await setup({ rooms: false, endEvent: "bye" });
    const cookie = await custom.web.login({ id: 3 });
    const socket = await custom.open(cookie);
    const seen = ending(socket, "bye");
    await custom.auth.endSession(custom.io, sessionIdOf(cookie), "SESSION_EXPIRED");
    expect(await seen).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });

    const silent = await setup({ endEvent: false });
    const cookie2 = await silent.web.login({ id: 4 });
    const quiet = await silent.open(cookie2);
    const seen2 = ending(quiet);
    await silent.auth.endSession(silent.io, sessionIdOf(cookie2));
    expect(await seen2).toEqual({ event: undefined, reason: "io server disconnect" });
  });

  it("with connectionStateRecovery (emits go through the adapter), the event still arrives before the disconnect", async () => {
    const web = await startWebApp();
    closers.push(web);
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
    closers.push({ close: () => auth.close() });
    const realtime = await startRealtime((io) => void auth.attach(io), {
      connectionStateRecovery: {},
      allowRequest: auth.allowRequest,
    });
    closers.push(realtime);
    const cookie = await web.login({ id: 40 });
    const socket = await connect(realtime.url, { cookie });
    closers.push(socket);
    const seen = ending(socket);
    await auth.endSession(realtime.io, sessionIdOf(cookie));
    expect(await seen).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
  });

  it("refuses bad arguments with a TypeError", async () => {
    const { auth, io } = await setup();
    await expect(auth.endSession(io, "")).rejects.toThrow(TypeError);
    await expect(auth.endSession(io, "x", "NOPE" as never)).rejects.toThrow(/code/);
    await expect(auth.endUser(io, 2 ** 60)).rejects.toThrow(/safe integer/);
    await expect(auth.endSession("x" as never, "id")).rejects.toThrow(/socket.io Server/);
    expect(() =>
      sessionAuth({ store: cookieStore(), signing: "keygrip", secret: "k", endEvent: "disconnect" }),
    ).toThrow(/endEvent/);
    expect(() => sessionAuth({ store: cookieStore(), signing: "keygrip", secret: "k", revalidate: 0 })).toThrow(
      /revalidate/,
    );
  });
});

describe("revalidation: the socket follows its session", () => {
  it("a logout over HTTP alone (no endSession) ends the sockets at the next re-read", async () => {
    const { web, open, ends } = await setup({ revalidate: 300 });
    const cookie = await web.login({ id: 5 });
    const socket = await open(cookie);
    const seen = ending(socket);
    await web.logout(cookie);
    expect(await seen).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    expect(ends).toHaveLength(1);
  });

  it("reads once per session per interval, not once per socket", async () => {
    const web = await startWebApp();
    closers.push(web);
    const store = counted(web.store);
    const { open } = await setup({ store: memoryStore(store), revalidate: 400 }, web);
    const cookie = await web.login({ id: 6 });
    await Promise.all([open(cookie), open(cookie), open(cookie), open(cookie)]);
    const afterHandshakes = store.reads;
    // At most one lookup per handshake; concurrent handshakes of a followed session share one (issue 22).
    expect(afterHandshakes).toBeGreaterThanOrEqual(1);
    expect(afterHandshakes).toBeLessThanOrEqual(4);
    await new Promise((resolve) => setTimeout(resolve, 1_250));
    // 1.25 s at a 400 ms interval (the first re-read after 200-400 ms): 3 or 4 re-reads for the 4 sockets.
    expect(store.reads - afterHandshakes).toBeGreaterThanOrEqual(2);
    expect(store.reads - afterHandshakes).toBeLessThanOrEqual(4);
  });

  it("a change the web app makes over HTTP reaches socket.data.session, and reload() reads it at once", async () => {
    const { web, open } = await setup({ revalidate: false });
    const cookie = await web.login({ id: 9, name: "before" });
    const socket = await open(cookie);
    await web.visit({ theme: "dark" }, cookie);
    const reloaded = await ask<{ ok: boolean; session: SessionData }>(socket, "reload");
    expect(reloaded.ok).toBe(true);
    expect(reloaded.session.theme).toBe("dark");
    expect((await ask<{ session: SessionData }>(socket, "whoami")).session.theme).toBe("dark");
  });

  it("a session that now names another user ends with UNAUTHENTICATED (identity never changes)", async () => {
    const { web, open } = await setup({ revalidate: 300 });
    const cookie = await web.login({ id: 10 });
    const socket = await open(cookie);
    const seen = ending(socket);
    await web.visit({ user: { id: 11 } }, cookie);
    expect(await seen).toEqual({ event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" });
  });

  it("authorize runs again at each re-read: a socket it now refuses ends with FORBIDDEN", async () => {
    const banned = new Set<string>();
    const { web, open } = await setup({ revalidate: 300, authorize: ({ userId }) => !banned.has(userId!) });
    const socket = await open(await web.login({ id: 12 }));
    const seen = ending(socket);
    banned.add("12");
    expect(await seen).toEqual({ event: { code: "FORBIDDEN" }, reason: "io server disconnect" });
  });

  it("at a re-read, authorize sees each socket's own copy: what it writes reaches no other socket", async () => {
    const seen: SessionData[] = [];
    const { web, open } = await setup({
      authorize: ({ session }) => {
        seen.push(session);
        // An authorize that writes into what it is given (a cache of a permission, say).
        (session as { checks?: number }).checks = ((session as { checks?: number }).checks ?? 0) + 1;
        return true;
      },
    });
    const cookie = await web.login({ id: 15 });
    const sockets = [await open(cookie), await open(cookie)];
    seen.length = 0;
    expect(await ask(sockets[0]!, "reload")).toMatchObject({ ok: true });
    // One read for the session; authorize once per socket, each on an object of its own.
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
    for (const socket of sockets) {
      const { session } = (await ask(socket, "whoami")) as { session: { checks?: number } };
      expect(session.checks).toBe(1);
    }
  });

  it("a store outage during re-reads ends nothing; reload() rejects STORE_UNAVAILABLE and works again after", async () => {
    const web = await startWebApp();
    closers.push(web);
    let down = false;
    const flaky: ExpressSessionStoreLike = {
      get: (sid, callback) =>
        down
          ? callback(Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" }))
          : web.store.get(sid, callback as never),
    };
    const { open } = await setup({ store: memoryStore(flaky), revalidate: 200 }, web);
    const socket = await open(await web.login({ id: 13 }));
    down = true;
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(socket.connected).toBe(true);
    expect(await ask(socket, "reload")).toEqual({ ok: false, code: "STORE_UNAVAILABLE" });
    down = false;
    expect(await ask(socket, "reload")).toMatchObject({ ok: true });
    expect(socket.connected).toBe(true);
  });

  it("close() stops every re-read and leaves the sockets connected", async () => {
    const web = await startWebApp();
    closers.push(web);
    const store = counted(web.store);
    const { auth, open } = await setup({ store: memoryStore(store), revalidate: 200 }, web);
    const cookie = await web.login({ id: 14 });
    const socket = await open(cookie);
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(store.reads).toBeGreaterThan(1); // the handshake, then re-reads
    await auth.close();
    const readsAtClose = store.reads;
    await web.logout(cookie);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(store.reads).toBe(readsAtClose);
    expect(socket.connected).toBe(true);
  });
});

describe("expiry: the socket is re-checked when its session says it ends", () => {
  it("an express-session that expires ends its sockets then, with SESSION_EXPIRED, even with revalidate: false", async () => {
    const web = await startWebApp({ maxAge: 1_200 });
    closers.push(web);
    const { open, ends } = await setup({ revalidate: false }, web);
    const started = Date.now();
    const socket = await open(await web.login({ id: 20 }));
    const seen = ending(socket);
    expect(await seen).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });
    const after = Date.now() - started;
    expect(after).toBeGreaterThanOrEqual(1_000);
    expect(after).toBeLessThan(3_000);
    expect(ends.map((error) => error.code)).toEqual(["SESSION_EXPIRED"]);
  });

  it("rolling: a session kept alive over HTTP keeps its socket, which ends once the requests stop", async () => {
    const web = await startWebApp({ maxAge: 800, rolling: true });
    closers.push(web);
    const { open } = await setup({ revalidate: false }, web);
    const cookie = await web.login({ id: 21 });
    const socket = await open(cookie);
    const seen = ending(socket);
    for (let i = 0; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await web.visit({ tick: i }, cookie); // rolling: every response extends cookie.expires
    }
    expect(socket.connected).toBe(true); // 2 s on an 800 ms session
    expect(await seen).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });
  });
});

describe("update(): safe writes from a socket", () => {
  it("20 concurrent updates from two sockets of one session lose nothing, and the web app sees all 20", async () => {
    const web = await startWebApp();
    closers.push(web);
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET, revalidate: false });
    closers.push({ close: () => auth.close() });
    const realtime = await startRealtime((io) => {
      auth.attach(io);
      serveLifecycle(io, auth);
    });
    closers.push(realtime);
    const cookie = await web.login({ id: 30 });
    const one = await connect(realtime.url, { cookie });
    const two = await connect(realtime.url, { cookie });
    closers.push(one, two);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ask<{ ok: boolean }>(i % 2 === 0 ? one : two, "add", `item-${i}`)),
    );
    expect(answers.every((answer) => answer.ok)).toBe(true);
    const stored = await new Promise<SessionData>((resolve, reject) =>
      web.store.get(sessionIdOf(cookie), (error, value) =>
        error ? reject(error) : resolve(value as unknown as SessionData),
      ),
    );
    expect((stored.items as string[]).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `item-${i}`).sort());
    // And express-session itself, on the next HTTP request, carries on from that session.
    await web.visit({ seen: true }, cookie);
    const after = await new Promise<SessionData>((resolve, reject) =>
      web.store.get(sessionIdOf(cookie), (error, value) =>
        error ? reject(error) : resolve(value as unknown as SessionData),
      ),
    );
    expect(after.items).toHaveLength(20);
  });

  it("a session that keeps changing under the write: SESSION_CONFLICT (retryable, 409) after 5 attempts, nothing written", async () => {
    const web = await startWebApp();
    closers.push(web);
    const base = memoryStore(web.store);
    let attempts = 0;
    // Another writer wins every race: the compare fails each time.
    const contested = { ...base, name: "contested", compareAndSet: async () => ((attempts += 1), false) };
    const auth = sessionAuth({ store: contested, secret: SECRET, revalidate: false });
    closers.push({ close: () => auth.close() });
    let failure: SessionAuthError | undefined;
    let mutated = 0;
    const realtime = await startRealtime((io) => {
      auth.attach(io);
      io.on("connection", (socket) => {
        socket.on("add", (ack: () => void) =>
          auth
            .update(socket, () => void (mutated += 1))
            .catch((error: SessionAuthError) => void (failure = error))
            .finally(ack),
        );
      });
    });
    closers.push(realtime);
    const socket = await connect(realtime.url, { cookie: await web.login({ id: 31 }) });
    closers.push(socket);
    await ask(socket, "add");
    expect(failure).toMatchObject({ code: "SESSION_CONFLICT", retryable: true, status: 409 });
    expect(attempts).toBe(5);
    expect(mutated).toBe(5); // each attempt mutates a fresh copy
    expect(socket.connected).toBe(true);
  });

  it("an update that logs the user out ends the session's sockets", async () => {
    const { web, auth, io, open } = await setup({ revalidate: false });
    const cookie = await web.login({ id: 32 });
    const socket = await open(cookie);
    const seen = ending(socket);
    const [server] = await io.fetchSockets();
    await expect(auth.update(server as unknown as Socket, (session) => void delete session.user)).rejects.toMatchObject(
      { code: "UNAUTHENTICATED" },
    );
    expect(await seen).toEqual({ event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" });
  });
});

describe("socket.data.session is the socket's own copy", () => {
  it("a handler's change reaches neither the store's object nor another socket", async () => {
    // @fastify/session's MemoryStore hands out the very object it keeps: the worst case.
    const live = new Map<string, SessionData>([["sid-1", { user: { id: 1 }, role: "user" }]]);
    const store: ExpressSessionStoreLike = { get: (sid, callback) => callback(null, live.get(sid) ?? null) };
    const auth = sessionAuth({ store: memoryStore(store), secret: SECRET, revalidate: false });
    closers.push({ close: () => auth.close() });
    const realtime = await startRealtime((io) => {
      io.use(auth);
      io.on("connection", (socket) => {
        socket.on("promote", (ack: () => void) => {
          socket.data.session.role = "admin";
          ack();
        });
        socket.on("role", (ack: (role: unknown) => void) => ack(socket.data.session.role));
      });
    });
    closers.push(realtime);
    const cookie = signSessionCookie({ value: "sid-1", secret: SECRET });
    const first = await connect(realtime.url, { cookie });
    const second = await connect(realtime.url, { cookie });
    closers.push(first, second);
    await ask(first, "promote");
    expect(await ask(first, "role")).toBe("admin");
    expect(await ask(second, "role")).toBe("user");
    expect(live.get("sid-1")!.role).toBe("user");
  });
});

describe("update() where the store cannot write", () => {
  it("cookie sessions: a TypeError that says why and what to do", async () => {
    const auth = sessionAuth({ store: cookieStore(), signing: "keygrip", name: "session", secret: "k" });
    closers.push({ close: () => auth.close() });
    await expect(auth.update({} as Socket, () => {})).rejects.toThrow(/browser, which holds the only copy/);
  });

  it("reload() of a socket it never authenticated is a TypeError", async () => {
    const { auth } = await setup();
    await expect(auth.reload({} as Socket)).rejects.toThrow(TypeError);
  });
});

describe("races and edges (from the second read)", () => {
  /** A store of fixed sessions that counts reads, can fail, and writes with a revision (compare-and-set). */
  function fixedStore() {
    const data = new Map<string, { session: SessionData; expires: Date | null; rev: number }>();
    const store = {
      name: "fixed",
      reads: 0,
      down: false,
      data,
      async get(id: string) {
        store.reads++;
        if (store.down) throw Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
        const record = data.get(id);
        return record
          ? { session: structuredClone(record.session), expires: record.expires, revision: record.rev }
          : null;
      },
      async compareAndSet(id: string, revision: unknown, session: SessionData) {
        const record = data.get(id);
        if (record === undefined || record.rev !== revision) return false;
        record.session = structuredClone(session);
        record.rev++;
        return true;
      },
    };
    return store;
  }

  async function serve(
    store: ReturnType<typeof fixedStore>,
    options: Partial<SessionAuthOptions>,
    setup: (io: Server) => void = () => {},
  ) {
    const ends: string[] = [];
    const auth = sessionAuth({ store, secret: SECRET, onSessionEnd: (error) => ends.push(error.code), ...options });
    closers.push({ close: () => auth.close() });
    let io!: Server;
    const realtime = await startRealtime((server) => {
      io = server;
      auth.attach(server);
      setup(server);
    });
    closers.push(realtime);
    const open = (id: string) =>
      connect(realtime.url, { cookie: signSessionCookie({ value: id, secret: SECRET }), transports: ["websocket"] });
    return { auth, io, ends, open, url: realtime.url };
  }

  it("a socket refused by a later middleware is not followed (no re-reads, no onSessionEnd)", async () => {
    const store = fixedStore();
    store.data.set("sid", { session: { userId: "1" }, expires: null, rev: 0 });
    const { ends, open } = await serve(store, { revalidate: 100 }, (io) =>
      io.use((_socket, next) => next(new Error("rate limited"))),
    );
    await expect(open("sid")).rejects.toMatchObject({ message: "rate limited" });
    const reads = store.reads;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(store.reads).toBe(reads);
    expect(ends).toEqual([]);
  });

  it("a session ended while a later middleware runs ends the socket as it connects", async () => {
    const store = fixedStore();
    store.data.set("sid", { session: { userId: "2" }, expires: null, rev: 0 });
    const { auth, io, ends, open } = await serve(store, { revalidate: false }, (server) =>
      server.use((_socket, next) => void setTimeout(next, 200)),
    );
    const connecting = open("sid");
    await new Promise((resolve) => setTimeout(resolve, 100));
    store.data.delete("sid");
    await auth.endSession(io, "sid");
    const socket = await connecting.catch(() => undefined);
    if (socket !== undefined) {
      closers.push(socket);
      await expect.poll(() => socket.connected).toBe(false);
    }
    expect(io.of("/").sockets.size).toBe(0);
    expect(ends).toEqual(["SESSION_NOT_FOUND"]);
  });

  it("a store outage once the known expiry has passed is retried in a while, not in a loop", async () => {
    const store = fixedStore();
    store.data.set("sid", { session: { userId: "3" }, expires: new Date(Date.now() + 300), rev: 0 });
    const { open } = await serve(store, {});
    const socket = await open("sid");
    closers.push(socket);
    store.down = true;
    const before = store.reads;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(store.reads - before).toBeLessThanOrEqual(2);
    expect(socket.connected).toBe(true);
  });

  it("with revalidate: false, an outage during an expiry re-check is retried once the store is back, then reads stop", async () => {
    const store = fixedStore();
    store.data.set("sid", { session: { userId: "7" }, expires: new Date(Date.now() + 200), rev: 0 });
    const { auth, io, open } = await serve(store, { revalidate: false });
    const socket = await open("sid");
    closers.push(socket);
    store.down = true;
    // The web app extends the session meanwhile (rolling): the re-check must find it alive, then rest.
    store.data.get("sid")!.expires = new Date(Date.now() + 60_000);
    await new Promise((resolve) => setTimeout(resolve, 400));
    store.down = false;
    const [server] = io.of("/").sockets.values();
    await auth.reload(server!);
    const after = store.reads;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(store.reads - after).toBeLessThanOrEqual(1);
    expect(socket.connected).toBe(true);
  });

  it("update() resolves what it wrote even when the socket leaves while the write is in flight", async () => {
    const store = fixedStore();
    store.data.set("sid", { session: { userId: "8", cart: [] }, expires: null, rev: 0 });
    const write = store.compareAndSet.bind(store);
    const opened: { client?: Awaited<ReturnType<typeof connect>> } = {};
    store.compareAndSet = async (id, revision, session) => {
      opened.client?.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      return write(id, revision, session);
    };
    const { auth, io, open } = await serve(store, { revalidate: false });
    opened.client = await open("sid");
    const [server] = io.of("/").sockets.values();
    const saved = await auth.update(server!, (session) => void (session.cart as string[]).push("item"));
    expect(saved.cart).toEqual(["item"]);
    expect(store.data.get("sid")!.session.cart).toEqual(["item"]);
  });

  it("update(): nothing is written for a socket that disconnects during mutate, or that authorize now refuses", async () => {
    const store = fixedStore();
    store.data.set("sid", { session: { userId: "4", cart: [] }, expires: null, rev: 0 });
    let banned = false;
    const { auth, io, open } = await serve(store, { revalidate: false, authorize: () => !banned });
    const first = await open("sid");
    const [server] = io.of("/").sockets.values();
    const leaving = auth.update(server!, async (session) => {
      first.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      (session.cart as string[]).push("book");
    });
    await expect(leaving).rejects.toThrow(/disconnected/);
    await expect(leaving).rejects.toMatchObject({ name: "SessionAuthError", code: "SOCKET_DISCONNECTED" });
    expect(store.data.get("sid")!.session.cart).toEqual([]);

    const second = await open("sid");
    closers.push(second);
    const [other] = io.of("/").sockets.values();
    banned = true;
    let mutated = false;
    await expect(auth.update(other!, () => void (mutated = true))).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(mutated).toBe(false);
    expect(store.data.get("sid")!.session.cart).toEqual([]);
  });

  // Issue 18 item 5: a handler that awaits something before update() meets a tab closed meanwhile; the
  // rejection must carry a code it can match, while a socket this auth never followed stays a TypeError.
  it("update() and reload() on a socket whose tab already closed reject SOCKET_DISCONNECTED; another auth's socket is a TypeError", async () => {
    const store = fixedStore();
    store.data.set("sid-closed-tab", { session: { userId: "12", cart: [] }, expires: null, rev: 0 });
    const { auth, io, open } = await serve(store, { revalidate: false });
    const tab = await open("sid-closed-tab");
    const [server] = io.of("/").sockets.values();
    const gone = new Promise((resolve) => server!.once("disconnect", resolve));
    tab.close();
    await gone;
    let mutated = false;
    for (const call of [auth.update(server!, () => void (mutated = true)), auth.reload(server!)]) {
      const error = await call.then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(SessionAuthError);
      expect(error).toMatchObject({ code: "SOCKET_DISCONNECTED", status: 410, retryable: false });
    }
    expect(mutated).toBe(false);
    expect(store.data.get("sid-closed-tab")!.session.cart).toEqual([]);

    const stranger = sessionAuth({ store, secret: SECRET });
    closers.push({ close: () => stranger.close() });
    await expect(stranger.update(server!, () => {})).rejects.toThrow(TypeError);
    await expect(stranger.reload(server!)).rejects.toThrow(TypeError);
  });

  it("allowRequest's result is not reused by another namespace of the connection once the session ended", async () => {
    const store = fixedStore();
    store.data.set("sid", { session: { userId: "6" }, expires: null, rev: 0 });
    const auth = sessionAuth({ store, secret: SECRET });
    closers.push({ close: () => auth.close() });
    const realtime = await startRealtime(
      (server) => {
        server.of("/public"); // created before attach(): no auth there, and it keeps the connection open
        auth.attach(server);
        server.of("/chat");
      },
      { allowRequest: auth.allowRequest },
    );
    closers.push(realtime);
    const manager = new Manager(realtime.url, {
      reconnection: false,
      transports: ["websocket"],
      extraHeaders: { cookie: signSessionCookie({ value: "sid", secret: SECRET }) },
    });
    const open = manager.socket("/public");
    const main = manager.socket("/");
    closers.push(open, main);
    await Promise.all(
      [open, main].map((socket) => new Promise<void>((resolve) => socket.once("connect", () => resolve()))),
    );
    const ended = ending(main);
    store.data.delete("sid");
    await auth.endSession(realtime.io, "sid");
    await ended;
    const chat = manager.socket("/chat");
    closers.push(chat);
    const refused = await new Promise<Error & { data?: unknown }>((resolve) => chat.once("connect_error", resolve));
    expect(refused.data).toEqual({ code: "SESSION_NOT_FOUND", retryable: false });
  });

  it("after close(), endSession and endUser still end sockets (a draining server still honours logouts)", async () => {
    const store = fixedStore();
    store.data.set("sid", { session: { userId: "5" }, expires: null, rev: 0 });
    const { auth, io, open } = await serve(store, {});
    const socket = await open("sid");
    closers.push(socket);
    await auth.close();
    const seen = ending(socket);
    await auth.endUser(io, "5");
    expect(await seen).toEqual({ event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" });
  });
});
