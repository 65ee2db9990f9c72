import { once } from "node:events";
import {
  createServer,
  connect as tcpConnect,
  type AddressInfo,
  type Server as TcpServer,
  type Socket as TcpSocket,
} from "node:net";
import { RedisStore } from "connect-redis";
import type { SessionData as ExpressSessionData } from "express-session";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionRoom, type SessionAuthOptions, type SessionStore } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";
import { describeSessionStore } from "socket.io-session-auth/testing";
import { eventually } from "../../support/eventually.js";
import { ask, connect, refusal, type ClientOptions, startWhoamiServer } from "../../support/realtime.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { startWebApp, sessionIdOf } from "../../support/web-app.js";

const SECRET = "keyboard cat";
const available = redisServerAvailable();

const newNodeRedis = (port: number) => createClient({ socket: { host: "127.0.0.1", port } });
type NodeRedis = ReturnType<typeof newNodeRedis>;
type Reader = "ioredis" | "node-redis";
const TRANSPORTS = [
  ["websocket only", { transports: ["websocket"] }],
  ["polling, then upgrade", { transports: ["polling", "websocket"] }],
] satisfies Array<[string, ClientOptions]>;

describe.skipIf(!available)("redisStore against a real redis-server", () => {
  let redis: RedisServer;
  const closers: Array<() => unknown> = [];
  const perTest: Array<() => unknown> = [];
  let writer: NodeRedis;
  let admin: Redis;

  /** node-redis, as connect-redis 9 requires; the app listens to 'error' as node-redis asks apps to. */
  async function nodeRedis(options: { listen?: boolean; port?: number } = {}): Promise<NodeRedis> {
    const client = newNodeRedis(options.port ?? redis.port);
    if (options.listen !== false) client.on("error", () => {});
    await client.connect();
    return client;
  }

  async function ioredis(port = redis.port): Promise<Redis> {
    const client = new Redis(port, "127.0.0.1");
    if (client.status !== "ready") await once(client, "ready");
    return client;
  }

  async function reader(kind: Reader, port?: number): Promise<Redis | NodeRedis> {
    // No 'error' listener of our own on the reading client: the adapter must keep outages from escaping.
    const client = kind === "ioredis" ? await ioredis(port) : await nodeRedis({ listen: false, port });
    perTest.push(() => (kind === "ioredis" ? (client as Redis).disconnect() : (client as NodeRedis).destroy()));
    return client;
  }

  async function webApp(options: Parameters<typeof startWebApp>[0] & { prefix?: string } = {}) {
    const { prefix, ...rest } = options;
    const web = await startWebApp({
      store: new RedisStore({ client: writer, ...(prefix === undefined ? {} : { prefix }) }),
      ...rest,
    });
    perTest.push(() => web.close());
    return web;
  }

  async function realtime(store: SessionStore, options: Partial<SessionAuthOptions> = {}) {
    const server = await startWhoamiServer({ store, secret: SECRET, ...options });
    perTest.push(() => server.close());
    return { url: server.url, errors: server.errors };
  }

  async function commandCounts(): Promise<Record<string, number>> {
    const text = await admin.info("commandstats");
    const counts: Record<string, number> = {};
    for (const [, name, calls] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (name !== "info" && name !== "config|resetstat") counts[name!] = Number(calls);
    }
    return counts;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    writer = await nodeRedis();
    admin = await ioredis();
    admin.on("error", () => {});
    closers.push(
      () => writer.destroy(),
      () => admin.disconnect(),
      () => redis.stop(),
    );
  });

  afterEach(async () => {
    for (const close of perTest.splice(0).reverse()) await close();
  });

  afterAll(async () => {
    for (const close of closers.splice(0)) await close();
  });

  describe.each(["ioredis", "node-redis"] as const)(
    "sessions written by Express + connect-redis, read over %s",
    (kind) => {
      it.each(TRANSPORTS)(
        "connects a logged-in user (%s) with one GET and no other command",
        async (_label, transport) => {
          const web = await webApp();
          const { url, errors } = await realtime(redisStore({ client: await reader(kind) }));
          const cookie = await web.login({ id: 42, name: "alice" });
          await admin.config("RESETSTAT");
          const socket = await connect(url, { cookie, ...transport });
          perTest.push(() => socket.close());
          const me = await ask<{ userId: string; user: unknown; rooms: string[] }>(socket, "whoami");
          expect(me).toEqual({
            userId: "42",
            user: { id: 42, name: "alice" },
            rooms: expect.arrayContaining(["user:42", sessionRoom(sessionIdOf(cookie))]),
          });
          expect(await commandCounts()).toEqual({ get: 1 });
          expect(errors).toEqual([]);
        },
      );

      it("refuses after logout with SESSION_NOT_FOUND", async () => {
        const web = await webApp();
        const { url, errors } = await realtime(redisStore({ client: await reader(kind) }));
        const cookie = await web.login({ id: 7 });
        (await connect(url, { cookie })).close();
        await web.logout(cookie);
        expect(await refusal(url, { cookie })).toMatchObject({
          message: "SESSION_NOT_FOUND",
          data: { code: "SESSION_NOT_FOUND", retryable: false },
        });
        expect(errors.map((e) => e.code)).toEqual(["SESSION_NOT_FOUND"]);
        expect(errors[0]!.message).not.toContain(sessionIdOf(cookie));
      });
    },
  );

  it("a bad signature costs no Redis command at all", async () => {
    const web = await webApp();
    const { url } = await realtime(redisStore({ client: await reader("ioredis") }));
    const cookie = await web.login({ id: 1 });
    const tampered = cookie.slice(0, -1) + (cookie.endsWith("A") ? "B" : "A");
    await admin.config("RESETSTAT");
    expect((await refusal(url, { cookie: tampered })).message).toBe("BAD_SIGNATURE");
    expect(await commandCounts()).toEqual({});
  });

  it("reads a custom prefix, and only with the same prefix", async () => {
    const web = await webApp({ prefix: "app1:sess:" });
    const client = await reader("ioredis");
    const cookie = await web.login({ id: 3 });
    expect(await admin.exists(`app1:sess:${sessionIdOf(cookie)}`)).toBe(1);
    const right = await realtime(redisStore({ client, prefix: "app1:sess:" }));
    const socket = await connect(right.url, { cookie });
    perTest.push(() => socket.close());
    expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("3");
    const wrong = await realtime(redisStore({ client }));
    expect((await refusal(wrong.url, { cookie })).message).toBe("SESSION_NOT_FOUND");
    // The diagnosis names the prefix and the cookie looked up, never the id (issue 18 item 9).
    const [diagnosis] = wrong.errors;
    expect(diagnosis!.message).toContain('keys "sess:<id>"');
    expect(diagnosis!.message).toContain('cookie "connect.sid"');
    expect(diagnosis!.message).not.toContain(sessionIdOf(cookie));
  });

  it("the key's TTL decides: refused once it lapses, accepted while it lives though cookie.expires is stale", async () => {
    // maxAge 1.2 s: connect-redis gives the key ceil(1.2) = 2 s, and every request refreshes that TTL
    // (EXPIRE) without rewriting the stored cookie.expires.
    const web = await webApp({ maxAge: 1200 });
    const { url } = await realtime(redisStore({ client: await reader("ioredis") }));
    const cookie = await web.login({ id: 5 });
    const key = `sess:${sessionIdOf(cookie)}`;
    const stored = new Date(
      (JSON.parse((await admin.get(key))!) as { cookie: { expires: string } }).cookie.expires,
    ).getTime();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await fetch(`${web.url}/touch`, { headers: { cookie } }).then((res) => res.arrayBuffer()); // express-session touches: EXPIRE
    while (Date.now() <= stored + 50) await new Promise((resolve) => setTimeout(resolve, 25));
    const json = JSON.parse((await admin.get(key))!) as { cookie: { expires: string } };
    expect(new Date(json.cookie.expires).getTime()).toBeLessThan(Date.now()); // stale...
    expect(await admin.pttl(key)).toBeGreaterThan(0); // ...while the key lives
    const socket = await connect(url, { cookie });
    socket.close();

    const deadline = Date.now() + 5_000;
    while ((await admin.exists(key)) === 1 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await refusal(url, { cookie })).message).toBe("SESSION_NOT_FOUND");
  });

  it.each([
    ["not JSON", "{not json", SyntaxError],
    ["JSON that is not an object", "[1,2,3]", TypeError],
  ])("a corrupt value (%s): SESSION_NOT_FOUND, with the cause reaching onError", async (_label, value, kind) => {
    const web = await webApp();
    const { url, errors } = await realtime(redisStore({ client: await reader("ioredis") }));
    const cookie = await web.login({ id: 9 });
    await admin.set(`sess:${sessionIdOf(cookie)}`, value, "KEEPTTL");
    expect(await refusal(url, { cookie })).toMatchObject({
      message: "SESSION_NOT_FOUND",
      data: { code: "SESSION_NOT_FOUND", retryable: false },
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe("SESSION_NOT_FOUND");
    expect(errors[0]!.cause).toBeInstanceOf(kind);
    expect(errors[0]!.message).not.toContain(sessionIdOf(cookie));
  });

  describe.each(["ioredis", "node-redis"] as const)("outage, with %s reading", (kind) => {
    const TIMEOUT = 1500;
    const SLACK = 1000; // a socket.io handshake on a busy 2-core machine

    it("refuses with STORE_UNAVAILABLE within the timeout while Redis is down, then recovers with no restart", async () => {
      const escaped: unknown[] = [];
      const onEscape = (reason: unknown) => void escaped.push(reason);
      process.on("unhandledRejection", onEscape);
      process.on("uncaughtException", onEscape);
      try {
        const web = await webApp();
        const { url, errors } = await realtime(redisStore({ client: await reader(kind) }), { timeout: TIMEOUT });
        const before = await web.login({ id: 11 });
        (await connect(url, { cookie: before })).close();

        await redis.stop();
        for (const [, transport] of [...TRANSPORTS, ...TRANSPORTS]) {
          const started = performance.now();
          const failure = await refusal(url, { cookie: before, ...transport });
          const elapsed = performance.now() - started;
          expect(failure).toMatchObject({
            message: "STORE_UNAVAILABLE",
            data: { code: "STORE_UNAVAILABLE", retryable: true },
          });
          expect(elapsed).toBeLessThan(TIMEOUT + SLACK);
        }
        expect(errors.every((e) => e.code === "STORE_UNAVAILABLE")).toBe(true);
        // Failed fast on the client's state, not by waiting out the timeout.
        expect(errors.some((e) => (e.cause as { code?: unknown } | undefined)?.code === "REDIS_NOT_READY")).toBe(true);

        await redis.start(); // the same port, empty: the app logs the user in again
        const after = await eventually(() => web.login({ id: 11 }));
        const socket = await eventually(() => connect(url, { cookie: after }));
        perTest.push(() => socket.close());
        expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("11");
        await new Promise((resolve) => setImmediate(resolve));
        expect(escaped).toEqual([]);
      } finally {
        process.off("unhandledRejection", onEscape);
        process.off("uncaughtException", onEscape);
        if (
          !(await redis.command("PING").then(
            () => true,
            () => false,
          ))
        )
          await redis.start();
      }
    });

    it("refuses within the timeout when Redis stops answering, and recovers when it answers again", async () => {
      const proxy = await startFreezableProxy(redis.port);
      perTest.push(() => proxy.close());
      const web = await webApp();
      const { url, errors } = await realtime(redisStore({ client: await reader(kind, proxy.port) }), {
        timeout: TIMEOUT,
      });
      const cookie = await web.login({ id: 12 });
      (await connect(url, { cookie })).close();

      proxy.freeze();
      const started = performance.now();
      expect((await refusal(url, { cookie })).message).toBe("STORE_UNAVAILABLE");
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 50);
      expect(elapsed).toBeLessThan(TIMEOUT + SLACK);
      expect(errors[0]!.message).toContain(`did not answer within ${TIMEOUT} ms`);

      proxy.thaw();
      const socket = await connect(url, { cookie });
      perTest.push(() => socket.close());
      expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("12");
    });
  });

  describeSessionStore(
    "redis over ioredis, sessions written by connect-redis",
    async () => {
      const client = await ioredis();
      const writes = new RedisStore({ client: writer });
      return {
        store: redisStore<Record<string, unknown>>({ client }),
        write: (id, session, options) => writes.set(id, asWritten(session, options?.expires)),
        writeCorrupt: async (id) => void (await writer.set(`sess:${id}`, '{"user":')),
        remove: (id) => writes.destroy(id),
        breakStore: async () => client.disconnect(),
        teardown: async () => client.disconnect(),
      };
    },
    { capabilities: { expiry: "null", compareAndSet: true } },
  );

  describeSessionStore(
    "redis over node-redis, custom prefix, sessions written by connect-redis",
    async () => {
      const client = await nodeRedis();
      const writes = new RedisStore({ client: writer, prefix: "kit:" });
      return {
        store: redisStore<Record<string, unknown>>({ client, prefix: "kit:" }),
        write: (id, session, options) => writes.set(id, asWritten(session, options?.expires)),
        writeCorrupt: async (id) => void (await writer.set(`kit:${id}`, "42")),
        remove: (id) => writes.destroy(id),
        breakStore: async () => client.destroy(),
        teardown: async () => {
          if (client.isOpen) client.destroy();
        },
      };
    },
    { capabilities: { expiry: "null", compareAndSet: true } },
  );
});

/** connect-redis takes the key's lifetime from cookie.expires: that is how a session "ends" in its format. */
function asWritten(session: object, expires: Date | undefined): ExpressSessionData {
  if (expires === undefined) return session as ExpressSessionData;
  const cookie = (session as { cookie?: object }).cookie ?? {};
  return { ...session, cookie: { ...cookie, expires: expires.toISOString() } } as unknown as ExpressSessionData;
}

/**
 * A TCP relay in front of redis-server that can stop relaying: the connection stays open and the client
 * stays "ready", but nothing comes back, as with a hung or partitioned server.
 */
async function startFreezableProxy(targetPort: number) {
  let frozen = false;
  const held: Array<() => void> = [];
  const sockets = new Set<TcpSocket>();
  const relay = (from: TcpSocket, to: TcpSocket) =>
    from.on("data", (chunk: Buffer) => {
      if (frozen) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server: TcpServer = createServer((inbound) => {
    const outbound = tcpConnect(targetPort, "127.0.0.1");
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    relay(inbound, outbound);
    relay(outbound, inbound);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => void (frozen = true),
    thaw: () => {
      frozen = false;
      for (const write of held.splice(0)) write();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
