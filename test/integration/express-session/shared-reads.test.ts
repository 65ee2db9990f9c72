import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-adapter";
import { RedisStore } from "connect-redis";
import MongoStore from "connect-mongo";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { createClient } from "redis";
import { Server, type ServerOptions } from "socket.io";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  sessionAuth,
  type SessionAuth,
  type SessionAuthOptions,
  type SessionData,
  type SessionStore,
} from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { mongoStore } from "socket.io-session-auth/mongo";
import { redisStore } from "socket.io-session-auth/redis";
import { eventually } from "../../support/eventually.js";
import { MONGO_TARGET_LABEL, startMongoTarget, type MongoTarget } from "../../support/mongo-server/target.js";
import { connect, ending, refusal, type ConnectFailure } from "../../support/realtime.js";
import {
  quitRedisClients,
  redisServerAvailable,
  startRedisServer,
  type RedisServer,
} from "../../support/redis-server.js";
import { sessionIdOf, startWebApp, type WebApp } from "../../support/web-app.js";

// Shared handshake reads (issue 22, DESIGN "Reconnect storms"): concurrent handshakes of a session share
// one store read, and a handshake of a session this node follows takes its recent last good read. Ends
// win, authorize runs per socket, each socket has its own copy, an outage refuses every waiter. On the
// real stores: express-session's MemoryStore, Redis (connect-redis writing, two socket.io nodes over the
// redis adapter) and MongoDB (connect-mongo writing, the test server). Reads are counted by a wrapper
// around the real adapter store, which can also hold reads back to make the races happen on purpose.

const SECRET = "keyboard cat";

/** The node's real store, counted; `hold()` makes reads wait for `release()` (the race made certain). */
interface Counted<S extends object = SessionData> extends SessionStore<S> {
  reads: number;
  hold(): void;
  release(): void;
  /** Only for the in-process store, which cannot go down: its reads reject while this is set. */
  failing: boolean;
}

function counted(store: SessionStore): Counted {
  let gate: Promise<void> | undefined;
  let open = (): void => {};
  const wrapper: Counted = {
    name: store.name,
    reads: 0,
    failing: false,
    async get(id, options) {
      wrapper.reads++;
      if (gate !== undefined) await gate;
      if (wrapper.failing) throw new Error("the in-process store is made to fail (test)");
      return store.get(id, options);
    },
    hold() {
      gate ??= new Promise<void>((resolve) => (open = resolve));
    },
    release() {
      gate = undefined;
      open();
    },
  };
  if (store.compareAndSet !== undefined) wrapper.compareAndSet = store.compareAndSet.bind(store);
  if (store.subscribe !== undefined) wrapper.subscribe = store.subscribe.bind(store);
  return wrapper;
}

interface Backend {
  label: string;
  /** Why the backend cannot run here, or undefined. */
  unavailable(): string | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  webApp(): Promise<WebApp>;
  /** A node's real store (a client of its own) and how to release it. */
  nodeStore(): Promise<{ store: SessionStore; close(): Promise<void> }>;
  /** socket.io options for a node (the Redis adapter between nodes). */
  server?(): { options: Partial<ServerOptions>; close(): void | Promise<unknown> };
  /** What sessionAuth needs beyond store and secret. */
  options: Partial<SessionAuthOptions>;
  /** Makes the node's reads fail for real (or, in process, by the wrapper); resolves the restore. */
  outage(store: Counted): Promise<() => Promise<void>>;
}

const memory = (): Backend => {
  let web: WebApp | undefined;
  return {
    label: "express-session MemoryStore",
    unavailable: () => undefined,
    start: async () => {},
    stop: async () => {},
    webApp: async () => (web = await startWebApp()),
    nodeStore: async () => ({ store: memoryStore(web!.store), close: async () => {} }),
    // No store events in process: sharing a last read is the app's choice (it calls endSession at logout).
    options: { sharedReadMaxAge: 5_000 },
    outage: async (store) => {
      store.failing = true;
      return async () => void (store.failing = false);
    },
  };
};

const redis = (): Backend => {
  let server: RedisServer;
  let writer: ReturnType<typeof createClient>;
  return {
    label: "Redis (connect-redis, keyspace events, two nodes)",
    unavailable: () => (redisServerAvailable() ? undefined : "redis-server is not installed"),
    start: async () => {
      server = await startRedisServer();
      await server.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
      writer = createClient({ socket: { host: "127.0.0.1", port: server.port } });
      writer.on("error", () => {});
      await writer.connect();
    },
    stop: async () => {
      writer?.destroy();
      await server?.stop();
    },
    webApp: () => startWebApp({ store: new RedisStore({ client: writer }) }),
    nodeStore: async () => {
      const client = new Redis({ host: "127.0.0.1", port: server.port, maxRetriesPerRequest: 1 });
      const subscriber = client.duplicate();
      for (const each of [client, subscriber]) each.on("error", () => {});
      const store = redisStore({ client, subscriber });
      return {
        store,
        close: async () => {
          await store.close!();
          client.disconnect();
          subscriber.disconnect();
        },
      };
    },
    server: () => {
      const pub = new Redis({ host: "127.0.0.1", port: server.port });
      const sub = pub.duplicate();
      for (const each of [pub, sub]) each.on("error", () => {});
      return {
        options: { adapter: createAdapter(pub, sub) },
        close: () => quitRedisClients([pub, sub]),
      };
    },
    // The default: redisStore with a subscriber reports ends, so a last read is shared for 5 s.
    options: {},
    outage: async () => {
      await server.stop();
      return async () => {
        await server.start();
        await server.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
        await eventually(async () => void (await writer.ping()), 10_000);
      };
    },
  };
};

const mongo = (): Backend => {
  let target: MongoTarget;
  let dbName: string;
  let admin: MongoClient;
  let collectionName: string;
  let route: Awaited<ReturnType<MongoTarget["interruptible"]>>;
  return {
    label: `MongoDB (connect-mongo, ${MONGO_TARGET_LABEL})`,
    unavailable: () => undefined,
    start: async () => {
      target = await startMongoTarget();
      dbName = target.newDatabase();
      admin = new MongoClient(target.uri(dbName), { serverSelectionTimeoutMS: 5000 });
    },
    stop: async () => {
      await admin?.close();
      await target?.close();
    },
    webApp: async () => {
      collectionName = `sessions_${randomBytes(4).toString("hex")}`;
      return startWebApp({
        store: MongoStore.create({ client: admin, dbName, collectionName, autoRemove: "disabled" }),
      });
    },
    nodeStore: async () => {
      // Through a route an outage can cut (the test server itself, or a proxy before a real MongoDB).
      route ??= await target.interruptible(dbName);
      const client = new MongoClient(route?.uri ?? target.uri(dbName), {
        serverSelectionTimeoutMS: 1000,
        heartbeatFrequencyMS: 500,
      });
      await client.connect(); // as an app does at start: a first connect that fails closes the client
      return {
        store: mongoStore({ db: client.db(dbName), collectionName, maxTimeMS: 1000 }),
        close: () => client.close(),
      };
    },
    options: { sharedReadMaxAge: 5_000 },
    outage: async () => {
      if (route === undefined) throw new Error("no route to cut to this MongoDB");
      await route.stop();
      return () => route!.start();
    },
  };
};

interface Node {
  url: string;
  io: Server;
  auth: SessionAuth;
  store: Counted;
  /** Handshakes that reached the auth middleware (they have joined a read, or made one, by then). */
  arrivals: number;
  /** How many times `authorize` ran, and the session objects it was given. */
  authorized: SessionData[];
}

describe.each([memory(), redis(), mongo()])("shared handshake reads on $label", (backend) => {
  const skip = backend.unavailable();
  if (skip !== undefined) console.warn(`SKIPPED shared reads on ${backend.label}: ${skip}`);
  if (skip !== undefined && process.env.CI === "true") throw new Error(`${backend.label}: ${skip} (CI=true)`);
  const closers: Array<() => unknown> = [];
  const sockets: ClientSocket[] = [];

  beforeAll(() => (skip === undefined ? backend.start() : undefined), 30_000);
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(() => (skip === undefined ? backend.stop() : undefined), 30_000);

  async function webApp(): Promise<WebApp> {
    const web = await backend.webApp();
    closers.push(() => web.close());
    return web;
  }

  async function node(options: Partial<SessionAuthOptions> = {}): Promise<Node> {
    const { store: real, close: closeStore } = await backend.nodeStore();
    const store = counted(real);
    const server = backend.server?.();
    const http = createServer();
    const io = new Server(http, server?.options ?? {});
    const made = { io, store, arrivals: 0, authorized: [] as SessionData[] } as Node;
    const auth = sessionAuth({
      store,
      secret: SECRET,
      revalidate: false,
      authorize: ({ session, handshake }) => {
        made.authorized.push(session);
        (session as { touchedByAuthorize?: boolean }).touchedByAuthorize = true;
        return handshake.auth?.tab !== "refused";
      },
      ...backend.options,
      ...options,
    });
    made.auth = auth;
    io.use((_socket, next) => {
      made.arrivals++;
      next();
    });
    auth.attach(io);
    io.on("connection", (socket) => {
      socket.on("session", (ack: (value: unknown) => void) => ack(socket.data.session));
      socket.on("scribble", (ack: (value: unknown) => void) => {
        (socket.data.session as { scribbled?: boolean }).scribbled = true;
        ack(true);
      });
    });
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    made.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    closers.push(async () => {
      store.release();
      await auth.close();
      io.disconnectSockets(true);
      await io.close();
      http.closeAllConnections();
      await server?.close();
      await closeStore();
    });
    return made;
  }

  async function open(where: Node, cookie: string, tab = "ok"): Promise<ClientSocket> {
    const socket = await connect(where.url, { cookie, transports: ["websocket"], auth: { tab } });
    sockets.push(socket);
    return socket;
  }

  /** Opens `count` sockets at once; each settles as connected or as its refusal. */
  function openMany(where: Node, cookie: string, count: number): Promise<Array<ClientSocket | ConnectFailure>> {
    return Promise.all(
      Array.from({ length: count }, () => open(where, cookie).catch((failure: ConnectFailure) => failure)),
    );
  }

  const waitFor = (condition: () => boolean) =>
    eventually(async () => {
      if (!condition()) throw new Error("not yet");
    }, 10_000);

  it.skipIf(skip)("10 tabs of a session at once cost one read; 10 more tabs soon after cost none", async () => {
    const web = await webApp();
    const a = await node();
    const cookies = await Promise.all([1, 2, 3].map((id) => web.login({ id })));
    a.store.hold();
    const storm = cookies.map((cookie) => openMany(a, cookie, 10));
    await waitFor(() => a.arrivals === 30);
    expect(a.store.reads).toBe(3); // one per distinct session, the other 27 handshakes wait on it
    a.store.release();
    const opened = (await Promise.all(storm)).flat();
    expect(opened.every((socket) => "connected" in socket && socket.connected)).toBe(true);
    // The session is followed here now: more tabs take its last good read.
    const more = (await Promise.all(cookies.map((cookie) => openMany(a, cookie, 10)))).flat();
    expect(more.every((socket) => "connected" in socket && socket.connected)).toBe(true);
    expect(a.store.reads).toBe(3);
  });

  it.skipIf(skip)(
    "a session with no socket here always reads; a tab later than sharedReadMaxAge reads again",
    async () => {
      const web = await webApp();
      const a = await node({ sharedReadMaxAge: 300 });
      const cookie = await web.login({ id: 4 });
      const first = await open(a, cookie);
      expect(a.store.reads).toBe(1);
      first.close();
      await waitFor(() => a.io.of("/").sockets.size === 0);
      const second = await open(a, cookie); // nobody follows the session here any more
      expect(a.store.reads).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 400));
      await open(a, cookie); // followed, but its last read is older than 300 ms
      expect(a.store.reads).toBe(3);
      expect(second.connected).toBe(true);
    },
  );

  it.skipIf(skip)("a bad signature costs no read", async () => {
    const web = await webApp();
    const a = await node();
    const cookie = await web.login({ id: 5 });
    await open(a, cookie);
    const forged = cookie.replace(/\.[^.;]+(;|$)/, ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$1");
    expect((await refusal(a.url, { cookie: forged, transports: ["websocket"] })).message).toBe("BAD_SIGNATURE");
    expect(a.store.reads).toBe(1);
  });

  it.skipIf(skip)("a session ended before a handshake is never accepted from the shared read", async () => {
    const web = await webApp();
    const a = await node();
    const cookie = await web.login({ id: 6 });
    const socket = await open(a, cookie);
    const ended = ending(socket);
    // endSession without a logout (a ban): the store still holds the session.
    await a.auth.endSession(a.io, sessionIdOf(cookie));
    expect((await ended).event).toEqual({ code: "SESSION_NOT_FOUND" });
    // The next handshake reads the store itself, within sharedReadMaxAge of the last read.
    await open(a, cookie);
    expect(a.store.reads).toBe(2);
    // A logout over HTTP, then endSession as the docs say: the store's answer refuses.
    await web.logout(cookie);
    await a.auth.endSession(a.io, sessionIdOf(cookie));
    expect((await refusal(a.url, { cookie, transports: ["websocket"] })).message).toBe("SESSION_NOT_FOUND");
    expect(a.store.reads).toBe(3);
  });

  it.skipIf(skip)("an end while a shared read is in flight refuses every handshake waiting on it", async () => {
    const web = await webApp();
    const a = await node();
    const cookie = await web.login({ id: 7 });
    a.store.hold();
    const waiting = openMany(a, cookie, 4);
    await waitFor(() => a.arrivals === 4);
    await a.auth.endSession(a.io, sessionIdOf(cookie)); // the session stays in the store
    // A handshake after the end does not join the read begun before it: it reads for itself.
    const after = open(a, cookie);
    await waitFor(() => a.store.reads === 2);
    a.store.release();
    // The handshake that read and the ones that waited on its read: all refused.
    expect(await waiting).toEqual(
      Array.from({ length: 4 }, () =>
        expect.objectContaining({ data: { code: "SESSION_NOT_FOUND", retryable: false } }),
      ),
    );
    expect((await after).connected).toBe(true);
    expect(a.store.reads).toBe(2);
  });

  it.skipIf(skip)("an outage during a shared read refuses every waiting handshake, retryable", async () => {
    const web = await webApp();
    const a = await node({ timeout: 1_500 });
    const cookie = await web.login({ id: 8 });
    a.store.hold();
    const waiting = openMany(a, cookie, 5);
    await waitFor(() => a.arrivals === 5);
    const restore = await backend.outage(a.store);
    let restored = false;
    closers.push(() => (restored ? undefined : restore()));
    a.store.release();
    const outcomes = await waiting;
    expect(outcomes).toEqual(
      Array.from({ length: 5 }, () =>
        expect.objectContaining({ message: "STORE_UNAVAILABLE", data: { code: "STORE_UNAVAILABLE", retryable: true } }),
      ),
    );
    expect(a.store.reads).toBe(1);
    await restore();
    restored = true;
    // Nothing of the failed read is kept: the next handshake reads again (Redis restarts empty: log in anew).
    const again = await web.login({ id: 8 });
    await eventually(() => open(a, again), 10_000);
    expect(a.store.reads).toBeGreaterThanOrEqual(2);
  });

  it.skipIf(skip)("authorize runs for every socket on the shared read, and each socket has its own copy", async () => {
    const web = await webApp();
    const a = await node();
    const cookie = await web.login({ id: 9, name: "Ann" });
    const first = await open(a, cookie);
    expect(await first.emitWithAck("scribble")).toBe(true);
    const second = await open(a, cookie);
    expect((await refusal(a.url, { cookie, transports: ["websocket"], auth: { tab: "refused" } })).message).toBe(
      "FORBIDDEN",
    );
    expect(a.store.reads).toBe(1);
    expect(a.authorized).toHaveLength(3);
    // authorize saw three distinct objects: what it wrote reached no other socket.
    expect(new Set(a.authorized).size).toBe(3);
    const theirs = (await second.emitWithAck("session")) as { user: unknown; scribbled?: boolean };
    expect(theirs.user).toEqual({ id: 9, name: "Ann" });
    expect(theirs.scribbled).toBeUndefined(); // the first socket's change stayed its own
    const sessions = [...a.io.of("/").sockets.values()].map((socket) => socket.data.session as object);
    expect(new Set(sessions).size).toBe(sessions.length);
  });

  if (backend.server !== undefined) {
    it.skipIf(skip)("two nodes: an end on one node or in the store reaches the other's shared reads", async () => {
      const web = await webApp();
      const [a, b] = [await node(), await node()];
      // Until A's subscription to the store's events is live (SUBSCRIBE is asynchronous).
      await eventually(async () => {
        const probe = await open(a, await web.login({ id: "probe" }));
        const seen = ending(probe);
        await web.logout(probe.io.opts.extraHeaders!.cookie!);
        await Promise.race([
          seen,
          new Promise((_, reject) => setTimeout(() => reject(new Error("no event yet")), 300)),
        ]);
      }, 10_000);
      a.store.reads = 0;
      const cookie = await web.login({ id: 10 });
      const onA = await open(a, cookie);
      const ended = ending(onA);
      await b.auth.endSession(b.io, sessionIdOf(cookie)); // from the other node, through the adapter
      expect((await ended).event).toEqual({ code: "SESSION_NOT_FOUND" });
      await open(a, cookie); // the session is still in the store: A reads it afresh
      expect(a.store.reads).toBe(2);
      // A logout over HTTP alone: the store's event ends A's socket, and A's next handshake reads.
      const again = await open(a, cookie);
      const loggedOut = ending(again);
      await web.logout(cookie);
      await loggedOut;
      expect((await refusal(a.url, { cookie, transports: ["websocket"] })).message).toBe("SESSION_NOT_FOUND");
      expect(a.store.reads).toBe(3);
      // A storm on both nodes: one read per session per node.
      const cookies = await Promise.all([11, 12].map((id) => web.login({ id })));
      const before = [a.store.reads, b.store.reads];
      await Promise.all([a, b].flatMap((where) => cookies.map((each) => openMany(where, each, 10))));
      expect(a.store.reads - before[0]!).toBeLessThanOrEqual(2 * 1.1);
      expect(b.store.reads - before[1]!).toBeLessThanOrEqual(2 * 1.1);
    });
  }
});

it("sharedReadMaxAge: milliseconds above 0, or false; anything else is a TypeError naming it", () => {
  const store = memoryStore({
    get: (_id: string, callback: (err: unknown, session?: unknown) => void) => callback(null),
  });
  for (const good of [1, 5_000, false, undefined] as const)
    expect(() => sessionAuth({ store, secret: SECRET, sharedReadMaxAge: good })).not.toThrow();
  for (const bad of [0, -1, Number.NaN, Infinity, "5s", true, 2 ** 31])
    expect(() => sessionAuth({ store, secret: SECRET, sharedReadMaxAge: bad as never })).toThrow(
      /`sharedReadMaxAge` must be false or a number of milliseconds/,
    );
  expect(() => sessionAuth({ store, secret: SECRET, sharedReads: 5 } as never)).toThrow(/sharedReadMaxAge/);
});
