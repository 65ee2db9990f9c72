import { once } from "node:events";
import { RedisStore } from "connect-redis";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SessionStore } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";
import { eventually } from "../../support/eventually.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { sessionIdOf, startWebApp } from "../../support/web-app.js";

// redisStore({ subscriber }): Redis keyspace notifications against a real redis-server, with
// express-session + connect-redis deleting and expiring the sessions.

const available = redisServerAvailable();
const newNodeRedis = (port: number, database?: number) =>
  createClient({ socket: { host: "127.0.0.1", port }, ...(database === undefined ? {} : { database }) });
type NodeRedis = ReturnType<typeof newNodeRedis>;
type Ended = Array<[string, string | undefined]>;
type Kind = "ioredis" | "node-redis";

describe.skipIf(!available)("redisStore({ subscriber }) against a real redis-server", () => {
  let redis: RedisServer;
  let writer: NodeRedis;
  const perTest: Array<() => unknown> = [];
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => {
    if ((warning as { code?: unknown }).code === "SOCKET_IO_SESSION_AUTH_KEYSPACE_EVENTS") warnings.push(warning);
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    writer = newNodeRedis(redis.port);
    writer.on("error", () => {});
    await writer.connect();
    process.on("warning", onWarning);
  });
  beforeEach(async () => {
    warnings.length = 0;
    await redis.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
  });
  afterEach(async () => {
    for (const close of perTest.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    process.off("warning", onWarning);
    writer.destroy();
    await redis.stop();
  });

  /** A store over `kind`, with a subscriber from client.duplicate(); returns the clients too. */
  async function store(kind: Kind, options: { prefix?: string; db?: number } = {}) {
    const { prefix, db } = options;
    if (kind === "ioredis") {
      const client = new Redis({ port: redis.port, host: "127.0.0.1", ...(db === undefined ? {} : { db }) });
      const subscriber = client.duplicate();
      for (const each of [client, subscriber]) if (each.status !== "ready") await once(each, "ready");
      const made = redisStore({ client, subscriber, ...(prefix === undefined ? {} : { prefix }) });
      perTest.push(
        () => client.disconnect(),
        () => subscriber.disconnect(),
        () => made.close!(),
      );
      return { store: made, client, subscriber };
    }
    const client = newNodeRedis(redis.port, db);
    const subscriber = client.duplicate();
    for (const each of [client, subscriber]) each.on("error", () => {});
    await Promise.all([client.connect(), subscriber.connect()]);
    const made = redisStore({ client, subscriber, ...(prefix === undefined ? {} : { prefix }) });
    perTest.push(
      () => client.destroy(),
      () => subscriber.destroy(),
      () => made.close!(),
    );
    return { store: made, client, subscriber };
  }

  function listen(target: SessionStore): { ended: Ended; stop: () => void } {
    const ended: Ended = [];
    const stop = target.subscribe!((id, reason) => void ended.push([id, reason]));
    perTest.push(stop);
    return { ended, stop };
  }

  /** Deletes a marker key under the store's prefix until its event arrives: the subscription is live. */
  async function subscribed(ended: Ended, prefix = "sess:"): Promise<void> {
    const marker = `marker-${Math.random().toString(36).slice(2)}`;
    await eventually(async () => {
      await writer.set(prefix + marker, "{}");
      await writer.del(prefix + marker);
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (!ended.some(([id]) => id === marker)) throw new Error("no event yet");
    }, 10_000);
    ended.splice(0);
  }

  describe.each(["ioredis", "node-redis"] as const)("over %s", (kind) => {
    it('logout (connect-redis\'s destroy: DEL) calls back with the session id and "destroyed"', async () => {
      const { store: target } = await store(kind);
      const { ended } = listen(target);
      await subscribed(ended);
      const web = await startWebApp({ store: new RedisStore({ client: writer }) });
      perTest.push(() => web.close());
      const cookie = await web.login({ id: 7 });
      await web.logout(cookie);
      await eventually(async () => expect(ended).toEqual([[sessionIdOf(cookie), "destroyed"]]), 5000);
      expect(warnings).toEqual([]);
    });

    it('a session whose key expires calls back with "expired"', async () => {
      const { store: target } = await store(kind);
      const { ended } = listen(target);
      await subscribed(ended);
      // maxAge 900 ms: connect-redis gives the key a TTL of 1 s.
      const web = await startWebApp({ store: new RedisStore({ client: writer }), maxAge: 900 });
      perTest.push(() => web.close());
      const cookie = await web.login({ id: 8 });
      await eventually(async () => expect(ended).toEqual([[sessionIdOf(cookie), "expired"]]), 8000);
    });

    it("keys under another prefix, and the same prefix in another database, call nothing back", async () => {
      const { store: target } = await store(kind, { prefix: "app1:" });
      const { ended } = listen(target);
      await subscribed(ended, "app1:");
      const db1 = newNodeRedis(redis.port, 1);
      await db1.connect();
      perTest.push(() => db1.destroy());
      await writer.set("app2:other", "{}");
      await writer.del("app2:other");
      await db1.set("app1:in-db-1", "{}");
      await db1.del("app1:in-db-1");
      await writer.set("app1:mine", "{}");
      await writer.del("app1:mine");
      await eventually(async () => expect(ended.map(([id]) => id)).toContain("mine"), 5000);
      expect(ended).toEqual([["mine", "destroyed"]]);
    });

    it("listens in the client's own database", async () => {
      const { store: target } = await store(kind, { db: 3 });
      const { ended } = listen(target);
      const db3 = newNodeRedis(redis.port, 3);
      await db3.connect();
      perTest.push(() => db3.destroy());
      await eventually(async () => {
        await db3.set("sess:in-3", "{}");
        await db3.del("sess:in-3");
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(ended.map(([id]) => id)).toContain("in-3");
      }, 10_000);
      ended.splice(0);
      await writer.set("sess:in-0", "{}");
      await writer.del("sess:in-0");
      await db3.set("sess:in-3-again", "{}");
      await db3.del("sess:in-3-again");
      await eventually(async () => expect(ended.map(([id]) => id)).toContain("in-3-again"), 5000);
      expect(ended.map(([id]) => id)).toEqual(["in-3-again"]);
    });

    it.each([
      ["off", "", '"" \\(missing "Egxe"\\)'],
      ["lacking E, x and e", "Kg", '"gK" \\(missing "Exe"\\)'],
    ])("warns once, and never throws, when the server's notify-keyspace-events is %s", async (_label, flags, shown) => {
      await redis.command("CONFIG", "SET", "notify-keyspace-events", flags);
      const { store: target } = await store(kind);
      const first = listen(target);
      first.stop();
      listen(target);
      listen(target);
      await eventually(async () => expect(warnings).toHaveLength(1), 5000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toMatch(
        new RegExp(`notify-keyspace-events is ${shown}.*CONFIG SET notify-keyspace-events Egxe`),
      );
    });

    it("survives the server's restart: the subscriber reconnects and listens again", async () => {
      const { store: target } = await store(kind);
      const { ended } = listen(target);
      await subscribed(ended);
      await redis.stop();
      await redis.start();
      await redis.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
      await eventually(async () => void (await writer.ping()), 10_000);
      await subscribed(ended);
    });

    it("unsubscribe and close() take back every listener and subscription, and quit no client", async () => {
      const { store: target, client, subscriber } = await store(kind);
      const errorListeners = [client.listenerCount("error"), subscriber.listenerCount("error")];
      const messageListeners = kind === "ioredis" ? (subscriber as Redis).listenerCount("message") : 0;
      const { ended, stop } = listen(target);
      await subscribed(ended);
      stop();
      await writer.set("sess:after-stop", "{}");
      await writer.del("sess:after-stop");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(ended).toEqual([]);
      await target.close!();
      expect(client.listenerCount("error")).toBe(errorListeners[0]! - 1);
      expect(subscriber.listenerCount("error")).toBe(errorListeners[1]! - 1);
      if (kind === "ioredis") expect((subscriber as Redis).listenerCount("message")).toBe(messageListeners);
      // Not in subscriber mode any more, and still connected: it answers an ordinary command.
      expect(await (subscriber as { ping(): Promise<string> }).ping()).toBe("PONG");
      expect(await (client as { ping(): Promise<string> }).ping()).toBe("PONG");
    });
  });
});
