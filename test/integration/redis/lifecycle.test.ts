import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-adapter";
import { RedisStore } from "connect-redis";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { Server } from "socket.io";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionAuth, type SessionAuth, type SessionAuthOptions } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";
import { eventually } from "../../support/eventually.js";
import { ask, connect, ending, serveLifecycle } from "../../support/realtime.js";
import {
  quitRedisClients,
  redisServerAvailable,
  startRedisServer,
  type RedisServer,
} from "../../support/redis-server.js";
import { sessionIdOf, startWebApp, type WebApp } from "../../support/web-app.js";

// The lifecycle with sessions in Redis: real express-session + connect-redis (node-redis) writing, redisStore
// (ioredis) reading with a subscriber for keyspace notifications, two socket.io nodes over the redis adapter.

const SECRET = "keyboard cat";
const available = redisServerAvailable();

interface Node {
  url: string;
  io: Server;
  auth: SessionAuth;
  close(): Promise<void>;
}

describe.skipIf(!available)("the lifecycle on Redis (connect-redis, keyspace notifications)", () => {
  let redis: RedisServer;
  let writer: ReturnType<typeof createClient>;
  const closers: Array<() => unknown> = [];
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    await redis.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
    writer = createClient({ socket: { host: "127.0.0.1", port: redis.port } });
    writer.on("error", () => {});
    await writer.connect();
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    writer?.destroy();
    await redis?.stop();
  });

  async function webApp(options: { maxAge?: number } = {}): Promise<WebApp> {
    const web = await startWebApp({ store: new RedisStore({ client: writer }), secret: SECRET, ...options });
    closers.push(() => web.close());
    return web;
  }

  async function node(options: Partial<SessionAuthOptions> = {}): Promise<Node> {
    const client = new Redis({ host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: 1 });
    const subscriber = client.duplicate();
    const pub = client.duplicate();
    const sub = client.duplicate();
    for (const each of [client, subscriber, pub, sub]) each.on("error", () => {});
    const store = redisStore({ client, subscriber });
    const http = createServer();
    const io = new Server(http, { adapter: createAdapter(pub, sub) });
    const auth = sessionAuth({ store, secret: SECRET, ...options });
    auth.attach(io);
    serveLifecycle(io, auth);
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    const made: Node = {
      url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
      io,
      auth,
      close: async () => {
        await auth.close();
        await store.close!();
        await io.close();
        await quitRedisClients([client, subscriber, pub, sub]);
      },
    };
    closers.push(() => made.close());
    return made;
  }

  async function open(where: Node, cookie: string): Promise<ClientSocket> {
    const socket = await connect(where.url, { cookie, transports: ["websocket"] });
    sockets.push(socket);
    return socket;
  }

  /** Waits until keyspace events reach the store's subscriber on `where` (its SUBSCRIBE is asynchronous). */
  async function listening(where: Node, web: WebApp): Promise<void> {
    await eventually(async () => {
      const cookie = await web.login({ id: "probe" });
      const socket = await open(where, cookie);
      const seen = ending(socket);
      await writer.del(`sess:${sessionIdOf(cookie)}`);
      await Promise.race([
        seen,
        new Promise((_, reject) => setTimeout(() => reject(new Error("no keyspace event yet")), 300)),
      ]);
    }, 10_000);
  }

  it("a key expiring in Redis ends its sockets at once, with SESSION_EXPIRED (no polling)", async () => {
    const web = await webApp({ maxAge: 1_500 });
    const a = await node({ revalidate: false });
    await listening(a, web);
    const socket = await open(a, await web.login({ id: "exp" }));
    const started = Date.now();
    expect(await ending(socket)).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("a logout over HTTP alone (connect-redis DEL) ends the session's sockets on both nodes within 1 s", async () => {
    const web = await webApp();
    const [a, b] = [await node({ revalidate: false }), await node({ revalidate: false })];
    await listening(a, web);
    await listening(b, web);
    const cookie = await web.login({ id: "ann" });
    const seen = [await open(a, cookie), await open(b, cookie)].map((socket) => ending(socket));
    const other = await open(b, await web.login({ id: "ann" }));
    const started = Date.now();
    await web.logout(cookie); // no endSession: the keyspace event does it
    expect(await Promise.all(seen)).toEqual([
      { event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" },
      { event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" },
    ]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(other.connected).toBe(true);
  });

  it("20 concurrent updates from two sockets (on two nodes) lose nothing; the web app sees all 20; the TTL is kept", async () => {
    const web = await webApp();
    const [a, b] = [await node({ revalidate: false }), await node({ revalidate: false })];
    const cookie = await web.login({ id: "upd" });
    const key = `sess:${sessionIdOf(cookie)}`;
    const ttlBefore = await writer.pTTL(key);
    const one = await open(a, cookie);
    const two = await open(b, cookie);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ask<{ ok: boolean; code?: string }>(i % 2 === 0 ? one : two, "add", i)),
    );
    expect(answers.filter((answer) => !answer.ok)).toEqual([]);
    const stored = JSON.parse((await writer.get(key))!) as { items: number[] };
    expect([...stored.items].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const ttlAfter = await writer.pTTL(key);
    expect(ttlAfter).toBeGreaterThan(0);
    expect(ttlAfter).toBeLessThanOrEqual(ttlBefore); // kept, never reset upwards
    // express-session through connect-redis reads the same session on the next request.
    await web.visit({ seen: true }, cookie);
    expect((JSON.parse((await writer.get(key))!) as { items: number[] }).items).toHaveLength(20);
  });

  it("a Redis outage during re-reads ends nothing; reload() says STORE_UNAVAILABLE, and the socket stays", async () => {
    const web = await webApp();
    const a = await node({ revalidate: 200, timeout: 500 });
    const socket = await open(a, await web.login({ id: "out" }));
    await redis.stop();
    try {
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(socket.connected).toBe(true);
      expect(await ask(socket, "reload")).toEqual({ ok: false, code: "STORE_UNAVAILABLE" });
      expect(socket.connected).toBe(true);
    } finally {
      await redis.start();
      await redis.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
      await eventually(async () => void (await writer.ping()), 10_000);
    }
  });
});
