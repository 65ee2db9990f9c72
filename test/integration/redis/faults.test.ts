import { once } from "node:events";
import { createServer, connect as tcpConnect, type Server as TcpServer, type Socket as TcpSocket } from "node:net";
import { RedisStore } from "connect-redis";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionAuth, type SessionStore } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";
import { eventually } from "../../support/eventually.js";
import {
  ask,
  connect,
  ending,
  refusal,
  serveWhoami,
  startRealtime,
  startWhoamiServer,
} from "../../support/realtime.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { startWebApp } from "../../support/web-app.js";

// Field faults of the Redis store (issue 18): the first handshakes of a deploy while the client is still
// connecting for the first time (item 6), one keyspace subscriber offered to two stores (item 2), and
// keyspace events switched off by a restart (item 3), against a real redis-server with real ioredis and node-redis.

const SECRET = "faults-secret-4d1f";
const available = redisServerAvailable();
type Kind = "ioredis" | "node-redis";

/** A port nothing listens on yet, and a relay to redis-server that starts listening on it when told. */
async function laterRedis(target: number) {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  let relay: TcpServer | undefined;
  const sockets = new Set<TcpSocket>();
  return {
    port,
    async start() {
      relay = createServer((inbound) => {
        const outbound = tcpConnect(target, "127.0.0.1");
        for (const each of [inbound, outbound]) {
          sockets.add(each);
          each.on("error", () => {});
          each.on("close", () => {
            sockets.delete(each);
            inbound.destroy();
            outbound.destroy();
          });
        }
        inbound.pipe(outbound).pipe(inbound);
      });
      relay.listen(port, "127.0.0.1");
      await once(relay, "listening");
    },
    async close() {
      for (const each of sockets) each.destroy();
      if (relay?.listening) await new Promise<void>((resolve) => relay!.close(() => resolve()));
    },
  };
}

describe.skipIf(!available)("redisStore field faults against a real redis-server", () => {
  let redis: RedisServer;
  let writer: ReturnType<typeof createClient>;
  const perTest: Array<() => unknown> = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    writer = createClient({ socket: { host: "127.0.0.1", port: redis.port } });
    writer.on("error", () => {});
    await writer.connect();
  });
  afterEach(async () => {
    for (const close of perTest.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    writer.destroy();
    await redis.stop();
  });

  /** A reading client created now, connecting by itself; not awaited, as an app starting up would not. */
  function startingClient(kind: Kind, port: number) {
    if (kind === "ioredis") {
      const client = new Redis({ host: "127.0.0.1", port, retryStrategy: () => 100 });
      perTest.push(() => client.disconnect());
      return client;
    }
    const client = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: () => 100 } });
    void client.connect().catch(() => {});
    perTest.push(() => client.destroy());
    return client;
  }

  async function realtime(store: SessionStore, timeout: number) {
    const server = await startWhoamiServer({ store, secret: SECRET, timeout });
    perTest.push(() => server.close());
    return { url: server.url, errors: server.errors };
  }

  async function clients(kind: Kind) {
    if (kind === "ioredis") {
      const client = new Redis({ host: "127.0.0.1", port: redis.port });
      const subscriber = client.duplicate();
      for (const each of [client, subscriber]) if (each.status !== "ready") await once(each, "ready");
      perTest.push(
        () => client.disconnect(),
        () => subscriber.disconnect(),
      );
      return { client, subscriber };
    }
    const client = createClient({ socket: { host: "127.0.0.1", port: redis.port } });
    const subscriber = client.duplicate();
    for (const each of [client, subscriber]) each.on("error", () => {});
    await Promise.all([client.connect(), subscriber.connect()]);
    perTest.push(
      () => client.destroy(),
      () => subscriber.destroy(),
    );
    return { client, subscriber };
  }

  async function loggedIn(id: string): Promise<string> {
    const web = await startWebApp({ store: new RedisStore({ client: writer }), secret: SECRET });
    perTest.push(() => web.close());
    return web.login({ id });
  }

  describe.each(["ioredis", "node-redis"] as const)("first connection, with %s reading", (kind) => {
    it("a handshake made before Redis is reachable waits for the client's first ready, then succeeds", async () => {
      const cookie = await loggedIn("deploy-1");
      const later = await laterRedis(redis.port);
      perTest.push(() => later.close());
      const client = startingClient(kind, later.port);
      const { url, errors } = await realtime(redisStore({ client }), 5000);

      const started = performance.now();
      const connecting = connect(url, { cookie });
      await new Promise((resolve) => setTimeout(resolve, 700));
      await later.start();
      const socket = await connecting;
      perTest.push(() => socket.close());
      expect(performance.now() - started).toBeGreaterThanOrEqual(650);
      expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("deploy-1");
      expect(errors).toEqual([]);
    });

    it("refuses STORE_UNAVAILABLE at the timeout, not before, when Redis never comes", async () => {
      const cookie = await loggedIn("deploy-2");
      const later = await laterRedis(redis.port);
      const client = startingClient(kind, later.port);
      const TIMEOUT = 1200;
      const { url, errors } = await realtime(redisStore({ client }), TIMEOUT);
      const started = performance.now();
      const failure = await refusal(url, { cookie });
      const elapsed = performance.now() - started;
      expect(failure).toMatchObject({ message: "STORE_UNAVAILABLE", data: { code: "STORE_UNAVAILABLE" } });
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 50);
      expect(elapsed).toBeLessThan(TIMEOUT + 1500);
      expect(errors.map((e) => e.code)).toEqual(["STORE_UNAVAILABLE"]);
    });

    it("a client that was ready and lost its connection still fails fast", async () => {
      const cookie = await loggedIn("deploy-3");
      const later = await laterRedis(redis.port);
      perTest.push(() => later.close());
      await later.start();
      const client = startingClient(kind, later.port);
      await eventually(async () => {
        if (kind === "ioredis" ? (client as Redis).status !== "ready" : !(client as { isReady: boolean }).isReady)
          throw new Error("not ready yet");
      });
      const TIMEOUT = 3000;
      const { url } = await realtime(redisStore({ client }), TIMEOUT);
      (await connect(url, { cookie })).close();
      await later.close();
      await eventually(async () => {
        if (kind === "ioredis" ? (client as Redis).status === "ready" : (client as { isReady: boolean }).isReady)
          throw new Error("still ready");
      });
      const started = performance.now();
      const failure = await refusal(url, { cookie });
      expect(failure).toMatchObject({ message: "STORE_UNAVAILABLE" });
      expect(performance.now() - started).toBeLessThan(TIMEOUT / 2);
    });
  });

  describe.each(["ioredis", "node-redis"] as const)("one keyspace subscriber, with %s", (kind) => {
    it("a second store on a subscriber an open store listens on is refused; after close() it listens alone", async () => {
      await redis.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
      const { client, subscriber } = await clients(kind);
      const first = redisStore({ client, subscriber, prefix: "shop:" });
      const firstEnded: string[] = [];
      const stopFirst = first.subscribe!((id) => void firstEnded.push(id));
      expect(() => redisStore({ client, subscriber, prefix: "admin:" })).toThrow(TypeError);
      expect(() => redisStore({ client, subscriber, prefix: "admin:" })).toThrow(
        /`subscriber` already listens for another redisStore.*own `client.duplicate\(\)`.*close\(\) the other store/,
      );
      stopFirst();
      await first.close!();

      // The issue's failure: the second store's logouts no longer ended sockets once the first closed.
      const second = redisStore({ client, subscriber, prefix: "admin:" });
      perTest.push(() => second.close!());
      const ended: string[] = [];
      perTest.push(second.subscribe!((id) => void ended.push(id)));
      await eventually(async () => {
        await writer.set("admin:staff-42", "{}");
        await writer.del("admin:staff-42");
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(ended).toContain("staff-42");
      }, 10_000);
      expect(firstEnded).toEqual([]);
    });
  });

  describe.each(["ioredis", "node-redis"] as const)("keyspace events switched off by a restart, with %s", (kind) => {
    it("warns again after the subscriber reconnects, and re-reads still end a deleted session", async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => {
        if ((warning as { code?: unknown }).code === "SOCKET_IO_SESSION_AUTH_KEYSPACE_EVENTS") warnings.push(warning);
      };
      process.on("warning", onWarning);
      perTest.push(() => process.off("warning", onWarning));
      await redis.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
      const { client, subscriber } = await clients(kind);
      const store = redisStore({ client, subscriber });
      perTest.push(() => store.close!());
      const auth = sessionAuth({ store, secret: SECRET, revalidate: 500, timeout: 1000 });
      const server = await startRealtime((io) => {
        io.use(auth);
        serveWhoami(io);
      });
      perTest.push(() => server.close());
      const web = await startWebApp({ store: new RedisStore({ client: writer }), secret: SECRET });
      perTest.push(() => web.close());
      // The store subscribes with the first authenticated socket.
      const before = await connect(server.url, { cookie: await web.login({ id: "before-restart-8" }) });
      perTest.push(() => before.close());
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(warnings).toEqual([]);

      // A restart loses notify-keyspace-events set by CONFIG SET (and, without persistence, the sessions).
      await redis.stop();
      await redis.start();
      await eventually(async () => expect(warnings).toHaveLength(1), 10_000);
      expect(warnings[0]!.message).toMatch(
        /after the subscriber reconnected: needs key-event notifications, but the server's notify-keyspace-events is "" \(missing "Egxe"\)/,
      );

      // Meanwhile the re-reads end a session deleted by a logout, which no key event reports now.
      await eventually(async () => void (await writer.ping()), 10_000);
      const cookie = await eventually(() => web.login({ id: "after-restart-9" }));
      const socket = await eventually(() => connect(server.url, { cookie }));
      perTest.push(() => socket.close());
      const ended = ending(socket);
      await web.logout(cookie);
      const started = performance.now();
      await ended;
      expect(performance.now() - started).toBeLessThan(500 + 1000 + 1500);
      expect(warnings).toHaveLength(1);
    });
  });
});
