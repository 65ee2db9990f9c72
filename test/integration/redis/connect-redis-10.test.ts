import { once } from "node:events";
import type { RedisStore as ConnectRedis10 } from "connect-redis10";
import type { SessionData as ExpressSessionData } from "express-session";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionAuth, sessionRoom, type SessionAuthError } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";
import { describeSessionStore } from "socket.io-session-auth/testing";
import { ask, connect, refusal, serveWhoami, startRealtime } from "../../support/realtime.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { sessionIdOf, startWebApp } from "../../support/web-app.js";
import { getOptions, signal } from "../../support/store-calls.js";

// connect-redis 10 (installed as the alias `connect-redis10`; engines: Node >= 22) writes the sessions,
// redisStore reads them and writes back what it reads. The other Redis tests use connect-redis 9, which
// runs on every Node this package supports; .ci/run runs this file on Node 22 and 24.

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);
// On Node 20 the file is skipped without a word beyond vitest's count: that is expected on a Node this
// package supports (the title says Node >= 22), not a missing prerequisite as a missing redis-server is.
const nodeSupported = NODE_MAJOR >= 22;
const available = nodeSupported && redisServerAvailable();

const SECRET = "keyboard cat";
const newNodeRedis = (port: number) => createClient({ socket: { host: "127.0.0.1", port } });
type NodeRedis = ReturnType<typeof newNodeRedis>;

describe.skipIf(!available)(`redisStore reads and writes what connect-redis 10 writes (Node >= 22)`, () => {
  let redis: RedisServer;
  let writer: NodeRedis;
  let RedisStore: typeof ConnectRedis10;
  let connectRedis: ConnectRedis10;
  const perTest: Array<() => unknown> = [];

  beforeAll(async () => {
    // Imported here, not at the top: below Node 22 the file must load without it.
    ({ RedisStore } = await import("connect-redis10"));
    redis = await startRedisServer();
    writer = newNodeRedis(redis.port);
    writer.on("error", () => {}); // node-redis asks apps to listen; the adapter's own client has none
    await writer.connect();
    connectRedis = new RedisStore({ client: writer });
  });
  afterEach(async () => {
    for (const close of perTest.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    writer?.destroy();
    await redis?.stop();
  });

  async function client(kind: "ioredis" | "node-redis"): Promise<Redis | NodeRedis> {
    if (kind === "ioredis") {
      const ioredis = new Redis(redis.port, "127.0.0.1");
      if (ioredis.status !== "ready") await once(ioredis, "ready");
      perTest.push(() => ioredis.disconnect());
      return ioredis;
    }
    const nodeRedis = newNodeRedis(redis.port);
    await nodeRedis.connect();
    perTest.push(() => nodeRedis.destroy());
    return nodeRedis;
  }

  async function webApp() {
    const web = await startWebApp({ store: connectRedis });
    perTest.push(() => web.close());
    return web;
  }

  /** What the web app's own store reads: connect-redis 10's get, through express-session's callback API. */
  const webRead = (id: string) =>
    new Promise<ExpressSessionData | null | undefined>((resolve, reject) =>
      connectRedis.get(id, (err, session) => (err ? reject(err) : resolve(session))),
    );

  describe.each(["ioredis", "node-redis"] as const)("read over %s", (kind) => {
    it("connects a user logged in by Express + connect-redis 10, and refuses after logout", async () => {
      const web = await webApp();
      const errors: SessionAuthError[] = [];
      const auth = sessionAuth({
        store: redisStore({ client: await client(kind) }),
        secret: SECRET,
        // A read per handshake: the socket below stays connected, and a new tab within sharedReadMaxAge
        // would share its read instead of asking Redis (no keyspace subscriber hears the logout here).
        sharedReadMaxAge: false,
        onError: (error) => errors.push(error),
      });
      const server = await startRealtime((io) => {
        auth.attach(io);
        serveWhoami(io);
      });
      perTest.push(
        () => server.close(),
        () => auth.close(),
      );
      const cookie = await web.login({ id: 42, name: "alice" });
      const socket = await connect(server.url, { cookie });
      perTest.push(() => socket.close());
      expect(await ask(socket, "whoami")).toEqual({
        userId: "42",
        user: { id: 42, name: "alice" },
        rooms: expect.arrayContaining(["user:42", sessionRoom(sessionIdOf(cookie))]),
      });
      expect(errors).toEqual([]);

      await web.logout(cookie);
      expect(await refusal(server.url, { cookie })).toMatchObject({
        data: { code: "SESSION_NOT_FOUND", retryable: false },
      });
    });

    it("compareAndSet writes connect-redis 10's bytes, keeps the TTL, and connect-redis 10 reads the change", async () => {
      const web = await webApp();
      const id = sessionIdOf(await web.login({ id: 7 }));
      const store = redisStore({ client: await client(kind) });
      const ttl = await writer.pTTL(`sess:${id}`);
      const record = await store.get(id, getOptions());
      const changed = { ...(record!.session as object), cart: ["book", "ünïcode"] };
      expect(await store.compareAndSet!(id, record!.revision, changed, { signal: signal() })).toBe(true);
      expect(await webRead(id)).toEqual(changed);
      expect(await writer.get(`sess:${id}`)).toBe(JSON.stringify(changed));
      expect(await writer.pTTL(`sess:${id}`)).toBeLessThanOrEqual(ttl);
    });
  });

  describeSessionStore(
    "redis over node-redis, sessions written by connect-redis 10",
    async () => {
      const reader = newNodeRedis(redis.port);
      await reader.connect();
      const writes = new RedisStore({ client: writer, prefix: "kit10:" });
      return {
        store: redisStore<Record<string, unknown>>({ client: reader, prefix: "kit10:" }),
        write: (id, session, options) =>
          writes.set(id, {
            ...session,
            ...(options?.expires ? { cookie: { expires: options.expires.toISOString() } } : {}),
          } as unknown as ExpressSessionData),
        writeCorrupt: async (id) => void (await writer.set(`kit10:${id}`, '{"user":')),
        remove: (id) => writes.destroy(id),
        breakStore: async () => reader.destroy(),
        teardown: async () => {
          if (reader.isOpen) reader.destroy();
        },
      };
    },
    { capabilities: { expiry: "null", compareAndSet: true } },
  );
});
