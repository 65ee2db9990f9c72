import { once } from "node:events";
import { RedisStore } from "connect-redis";
import type { SessionData as ExpressSessionData } from "express-session";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SessionData, SessionRecord, SessionStore } from "socket.io-session-auth";
import { redisStore, type RedisSerializer } from "socket.io-session-auth/redis";
import { isJsonRecord } from "../../../src/copy.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { sessionIdOf, startWebApp } from "../../support/web-app.js";
import { getOptions, getThen, signal } from "../../support/store-calls.js";

// compareAndSet against a real redis-server: express-session + connect-redis write the sessions, and
// connect-redis (the web app's own store) reads what the adapter wrote.

const available = redisServerAvailable();
const newNodeRedis = (port: number) => createClient({ socket: { host: "127.0.0.1", port } });
type NodeRedis = ReturnType<typeof newNodeRedis>;
type Items = { items?: number[] };

describe.skipIf(!available)("redisStore.compareAndSet against a real redis-server", () => {
  let redis: RedisServer;
  let writer: NodeRedis;
  let connectRedis: RedisStore;
  const perTest: Array<() => unknown> = [];

  /** What the web app's own store reads: connect-redis's get, through express-session's callback API. */
  const webRead = (id: string) =>
    new Promise<ExpressSessionData | null | undefined>((resolve, reject) =>
      connectRedis.get(id, (err, session) => (err ? reject(err) : resolve(session))),
    );
  const webWrite = (id: string, session: ExpressSessionData) =>
    new Promise<void>((resolve, reject) => connectRedis.set(id, session, (err) => (err ? reject(err) : resolve())));

  beforeAll(async () => {
    redis = await startRedisServer();
    writer = newNodeRedis(redis.port);
    writer.on("error", () => {});
    await writer.connect();
    connectRedis = new RedisStore({ client: writer });
  });
  afterEach(async () => {
    for (const close of perTest.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    writer.destroy();
    await redis.stop();
  });

  async function login(maxAge?: number) {
    const web = await startWebApp({ store: connectRedis, ...(maxAge === undefined ? {} : { maxAge }) });
    perTest.push(() => web.close());
    const cookie = await web.login({ id: 42 });
    return { web, cookie, id: sessionIdOf(cookie) };
  }

  async function reader(kind: "ioredis" | "node-redis", serializer?: RedisSerializer) {
    if (kind === "ioredis") {
      const client = new Redis(redis.port, "127.0.0.1");
      if (client.status !== "ready") await once(client, "ready");
      perTest.push(() => client.disconnect());
      return redisStore({ client, serializer });
    }
    const client = newNodeRedis(redis.port);
    await client.connect();
    perTest.push(() => client.destroy());
    return redisStore({ client, serializer });
  }

  async function appendWithRetry(store: SessionStore, id: string, n: number, attempts = 200): Promise<number> {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const record = (await store.get(id, getOptions())) as SessionRecord<SessionData & Items>;
      record.session.items = [...(record.session.items ?? []), n];
      if (await store.compareAndSet!(id, record.revision, record.session, { signal: signal() })) return attempt;
    }
    throw new Error(`no write landed in ${attempts} attempts`);
  }

  describe.each(["ioredis", "node-redis"] as const)("over %s", (kind) => {
    it("hands the core's callback read a record marked as JSON data when JSON parsed it, and get() a plain one", async () => {
      const { id } = await login();
      const store = await reader(kind);
      const read = (each: SessionStore) =>
        new Promise<SessionRecord | null | undefined>((resolve, reject) =>
          getThen(each).read(id, getOptions(), (error, answer) =>
            error === undefined ? resolve(answer) : reject(error),
          ),
        );
      const marked = await read(store);
      expect(isJsonRecord(marked!)).toBe(true);
      const record = await store.get(id, { ...getOptions(), revision: false });
      expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
      expect(isJsonRecord(record!)).toBe(false);
      expect(record).toEqual(marked);
      const custom = await read(await reader(kind, { parse: (text) => JSON.parse(text) as unknown }));
      expect(custom!.session).toEqual(record!.session);
      expect(isJsonRecord(custom!)).toBe(false);
    });

    it("writes on the revision just read, in connect-redis's bytes, and connect-redis reads the change", async () => {
      const { id } = await login();
      const store = await reader(kind);
      const record = await store.get(id, getOptions());
      expect(record!.revision).toBe(await redis.command("GET", `sess:${id}`).then((reply) => reply.split("\r\n")[1]));
      const changed = { ...(record!.session as object), cart: ["book", "ünïcode"] };
      expect(await store.compareAndSet!(id, record!.revision, changed, { signal: signal() })).toBe(true);
      expect(await webRead(id)).toEqual(changed);
      expect(await writer.get(`sess:${id}`)).toBe(JSON.stringify(changed));
    });

    it("fails (false) after the web app wrote in between, and leaves the web app's write", async () => {
      const { id } = await login();
      const store = await reader(kind);
      const record = await store.get(id, getOptions());
      const theirs = { ...(record!.session as object), theme: "dark" } as unknown as ExpressSessionData;
      await webWrite(id, theirs);
      expect(
        await store.compareAndSet!(
          id,
          record!.revision,
          { ...(record!.session as object), cart: ["lost"] },
          { signal: signal() },
        ),
      ).toBe(false);
      expect(await webRead(id)).toMatchObject({ theme: "dark" });
      expect(await webRead(id)).not.toHaveProperty("cart");
    });

    it("fails (false) for a session that is gone, and creates no key", async () => {
      const { web, cookie, id } = await login();
      const store = await reader(kind);
      const record = await store.get(id, getOptions());
      await web.logout(cookie);
      expect(await store.compareAndSet!(id, record!.revision, record!.session, { signal: signal() })).toBe(false);
      expect(await writer.exists(`sess:${id}`)).toBe(0);
    });

    it("keeps the key's TTL as it was (KEEPTTL), rather than recomputing it", async () => {
      const { id } = await login(3_600_000);
      const store = await reader(kind);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const before = await writer.pTTL(`sess:${id}`);
      expect(before).toBeLessThan(3_600_000 - 100);
      const record = await store.get(id, getOptions());
      expect(
        await store.compareAndSet!(
          id,
          record!.revision,
          { ...(record!.session as object), n: 1 },
          { signal: signal() },
        ),
      ).toBe(true);
      const after = await writer.pTTL(`sess:${id}`);
      expect(after).toBeLessThanOrEqual(before);
      expect(after).toBeGreaterThan(before - 1000);
    });

    it("20 concurrent read-compareAndSet-retry loops on one session lose nothing", async () => {
      const { id } = await login();
      const stores = [await reader(kind), await reader(kind)];
      const attempts = await Promise.all(Array.from({ length: 20 }, (_, n) => appendWithRetry(stores[n % 2]!, id, n)));
      const items = ((await webRead(id)) as Items).items!;
      expect([...items].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
      expect(attempts.some((count) => count > 1)).toBe(true);
    });

    it("an aborted signal sends nothing", async () => {
      const { id } = await login();
      const store = await reader(kind);
      const record = await store.get(id, getOptions());
      const controller = new AbortController();
      controller.abort(new Error("timeout"));
      await expect(store.compareAndSet!(id, record!.revision, { x: 1 }, { signal: controller.signal })).rejects.toThrow(
        "timeout",
      );
      expect(await webRead(id)).not.toHaveProperty("x");
    });

    it("a revision that is not the stored text is a TypeError (a caller's mistake, not an outage)", async () => {
      const { id } = await login();
      const store = await reader(kind);
      await expect(store.compareAndSet!(id, { not: "text" }, {}, { signal: signal() })).rejects.toThrow(TypeError);
    });
  });
});
