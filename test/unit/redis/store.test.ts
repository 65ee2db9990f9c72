import type { Cluster, Redis } from "ioredis";
import type { createClient, createCluster } from "redis";
import { describe, expect, expectTypeOf, it } from "vitest";
import { redisStore, type RedisClientLike, type RedisStoreOptions } from "socket.io-session-auth/redis";

// These tests need no Redis: they pin the option checks, the client detection and the abort handling
// with hand-made clients. Everything that talks to Redis is in test/integration/redis/.

type Reports = unknown[];
const options = (signal = new AbortController().signal, reports: Reports = []) => ({
  signal,
  report: (cause: unknown) => void reports.push(cause),
});

/** A client that answers GET from a map and records the keys it was asked for. */
function promiseClient(values: Record<string, unknown> = {}) {
  const asked: string[] = [];
  return { asked, get: async (key: string) => (asked.push(key), values[key] ?? null) };
}

describe("redisStore options", () => {
  const client = promiseClient();
  it.each([
    [undefined, /pass an options object/],
    [{}, /`client` is required/],
    [{ client: {} }, /`client` is required/],
    [{ client: { get: "nope" } }, /`client` is required/],
    [{ client, prefix: 5 }, /`prefix` must be a string/],
    [{ client, prefix: null }, /`prefix` must be a string/],
    [{ client, serializer: {} }, /`serializer` must be an object with parse/],
    [{ client, serializer: null }, /`serializer` must be an object with parse/],
    // `ttl` served only the removed `set`: any value is refused, saying so.
    [{ client, ttl: 0 }, /`ttl` was removed: it served only the store's `set`/],
    [{ client, ttl: 60 }, /`ttl` was removed/],
    [{ client, ttl: () => 7 }, /`ttl` was removed.*connect-redis's own `ttl`/],
    [{ client, keyPrefix: "x:" }, /unknown option `keyPrefix` \(did you mean `prefix`\?\)/],
  ])("%o", (given, message) => {
    expect(() => redisStore(given as unknown as RedisStoreOptions)).toThrow(TypeError);
    expect(() => redisStore(given as unknown as RedisStoreOptions)).toThrow(message);
  });

  it('defaults: the prefix "sess:", JSON, the name "redis", and an empty prefix is honoured', async () => {
    const store = redisStore({ client });
    expect(store.name).toBe("redis");
    await store.get("abc", options());
    const bare = redisStore({ client, prefix: "" });
    await bare.get("abc", options());
    expect(client.asked).toEqual(["sess:abc", "abc"]);
  });

  it("accepts the driver types as they are (ioredis Redis and Cluster, node-redis client and cluster)", () => {
    expectTypeOf<Redis>().toMatchTypeOf<RedisClientLike>();
    expectTypeOf<Cluster>().toMatchTypeOf<RedisClientLike>();
    expectTypeOf<ReturnType<typeof createClient>>().toMatchTypeOf<RedisClientLike>();
    expectTypeOf<ReturnType<typeof createCluster>>().toMatchTypeOf<RedisClientLike>();
  });
});

describe("redisStore reading", () => {
  it("parses with a custom serializer, sync or async, and ignores the stored cookie.expires", async () => {
    const past = JSON.stringify({ cookie: { expires: new Date(Date.now() - 60_000).toISOString() }, user: { id: 1 } });
    const client = promiseClient({ "sess:a": `b64:${Buffer.from(past).toString("base64")}` });
    const parse = (text: string) => JSON.parse(Buffer.from(text.slice(4), "base64").toString("utf8")) as unknown;
    for (const serializer of [{ parse }, { parse: async (text: string) => parse(text) }]) {
      const record = await redisStore({ client, serializer }).get("a", options());
      expect(record).toEqual({
        session: JSON.parse(past),
        expires: null,
        revision: `b64:${Buffer.from(past).toString("base64")}`,
      });
    }
  });

  it("reads a Buffer reply as UTF-8", async () => {
    const client = promiseClient({ "sess:a": Buffer.from('{"user":"ünï"}') });
    expect((await redisStore({ client }).get("a", options()))?.session).toEqual({ user: "ünï" });
  });

  it.each([
    ["not JSON", "{oops", SyntaxError],
    ["JSON null", "null", TypeError],
    ["a JSON number", "42", TypeError],
    ["a JSON string", '"s"', TypeError],
    ["a JSON array", "[1,2]", TypeError],
    ["an empty string", "", SyntaxError],
  ])("%s: null, and the cause is reported", async (_label, value, kind) => {
    const reports: Reports = [];
    const record = await redisStore({ client: promiseClient({ "sess:a": value }) }).get(
      "a",
      options(undefined, reports),
    );
    expect(record).toBeNull();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toBeInstanceOf(kind);
  });

  it("a reply of the wrong type (a client mapped to other types) rejects with a TypeError: a misconfiguration, not an outage", async () => {
    const reports: Reports = [];
    await expect(
      redisStore({ client: promiseClient({ "sess:a": 42 }) }).get("a", options(undefined, reports)),
    ).rejects.toThrow(TypeError);
    await expect(redisStore({ client: promiseClient({ "sess:a": { user: 1 } }) }).get("a", options())).rejects.toThrow(
      /returned an object for GET/,
    );
    expect(reports).toEqual([]);
  });

  it("an unparsable session is reported without quoting the stored bytes (V8's SyntaxError does)", async () => {
    const reports: Reports = [];
    const stored = '{"user":{"id":1},"token":"tok_live_SECRET';
    expect(
      await redisStore({ client: promiseClient({ "sess:a": stored }) }).get("a", options(undefined, reports)),
    ).toBeNull();
    expect(reports).toEqual([expect.any(SyntaxError)]);
    const report = reports[0] as Error;
    expect(report.message).toContain("the value under the session key");
    expect(`${report.message} ${String(report.stack)} ${String(report.cause)}`).not.toMatch(/tok_live|SECRET|"user"/);
  });

  it("a record carries the stored text as its revision", async () => {
    const record = await redisStore({ client: promiseClient({ "sess:a": '{"n":1}' }) }).get("a", options());
    expect(record).toEqual({ session: { n: 1 }, expires: null, revision: '{"n":1}' });
  });

  it("a serializer that throws: null and reported, never a rejection", async () => {
    const reports: Reports = [];
    const boom = new Error("cannot decrypt");
    const serializer = {
      parse: () => {
        throw boom;
      },
    };
    await expect(
      redisStore({ client: promiseClient({ "sess:a": "x" }), serializer }).get("a", options(undefined, reports)),
    ).resolves.toBeNull();
    expect(reports).toEqual([boom]);
  });

  it("a serializer is called once per read (it may decrypt), and its rejected promise is reported, never left unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let calls = 0;
      const boom = new Error("decryption failed");
      const serializer = {
        parse: async (text: string) => {
          calls++;
          if (text === "bad") throw boom;
          return JSON.parse(text) as unknown;
        },
      };
      const client = promiseClient({ "sess:good": '{"n":1}', "sess:bad": "bad" });
      const store = redisStore({ client, serializer });
      expect((await store.get("good", options()))?.session).toEqual({ n: 1 });
      expect(calls).toBe(1);
      const reports: Reports = [];
      expect(await store.get("bad", options(undefined, reports))).toBeNull();
      expect(calls).toBe(2);
      expect(reports).toEqual([boom]);
      let syncCalls = 0;
      const throwing = {
        parse: () => {
          syncCalls++;
          throw boom;
        },
      };
      expect(await redisStore({ client, serializer: throwing }).get("good", options())).toBeNull();
      expect(syncCalls).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("rejects (so the core says STORE_UNAVAILABLE) when the client fails, and for a callback-style client", async () => {
    const failing = { get: () => Promise.reject(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })) };
    await expect(redisStore({ client: failing }).get("a", options())).rejects.toMatchObject({ code: "ECONNRESET" });
    const throwing = {
      get: (): Promise<unknown> => {
        throw new Error("sync throw");
      },
    };
    await expect(redisStore({ client: throwing }).get("a", options())).rejects.toThrow("sync throw");
    const callbackStyle = { get: (() => true) as unknown as RedisClientLike["get"] };
    await expect(redisStore({ client: callbackStyle }).get("a", options())).rejects.toThrow(/did not return a promise/);
  });
});

describe("redisStore and the AbortSignal", () => {
  it("stops waiting when the signal aborts, and a late failure of the command goes nowhere", async () => {
    let fail!: (error: Error) => void;
    const client = { get: () => new Promise<string>((_, reject) => (fail = reject)) };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const controller = new AbortController();
      const pending = redisStore({ client }).get("a", options(controller.signal));
      const reason = new Error("timeout after 50 ms");
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
      fail(new Error("Connection is closed."));
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("does not send the command when the signal is already aborted", async () => {
    const client = promiseClient();
    const controller = new AbortController();
    controller.abort();
    await expect(redisStore({ client }).get("a", options(controller.signal))).rejects.toBeDefined();
    expect(client.asked).toEqual([]);
  });
});

describe("redisStore client detection", () => {
  it("an ioredis-like client that is not ready is refused at once, without a command", async () => {
    const asked: string[] = [];
    const client = {
      status: "reconnecting",
      get: async (key: string) => (asked.push(key), null),
      eval: async () => 1,
    };
    const store = redisStore({ client });
    await expect(store.get("a", options())).rejects.toMatchObject({
      code: "REDIS_NOT_READY",
      message: expect.stringContaining('"reconnecting"'),
    });
    await expect(store.compareAndSet!("a", "{}", {}, { signal: new AbortController().signal })).rejects.toMatchObject({
      code: "REDIS_NOT_READY",
    });
    client.status = "end";
    await expect(store.get("a", options())).rejects.toThrow(/will not reconnect/);
    client.status = "wait"; // lazyConnect: the first command is what connects
    await expect(store.get("a", options())).resolves.toBeNull();
    client.status = "ready";
    await expect(store.get("a", options())).resolves.toBeNull();
    expect(asked).toEqual(["sess:a", "sess:a"]);
  });

  it("a node-redis-like client: isReady false is refused, with the last connection error as the cause", async () => {
    const listeners = new Map<string, Array<(...args: unknown[]) => void>>();
    const client = {
      isOpen: true,
      isReady: false,
      get: async () => null,
      on(event: string, listener: (...args: unknown[]) => void) {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
        return this;
      },
      off(event: string, listener: (...args: unknown[]) => void) {
        listeners.set(
          event,
          (listeners.get(event) ?? []).filter((l) => l !== listener),
        );
        return this;
      },
    };
    const store = redisStore({ client });
    // Ready once, then lost: refused at once (a client never ready yet is waited for: issue 18 item 6, below).
    client.isReady = true;
    for (const listener of listeners.get("ready") ?? []) listener();
    client.isReady = false;
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });
    for (const listener of listeners.get("error") ?? []) listener(refused);
    await expect(store.get("a", options())).rejects.toMatchObject({ code: "REDIS_NOT_READY", cause: refused });
    client.isReady = true;
    for (const listener of listeners.get("ready") ?? []) listener();
    await expect(store.get("a", options())).resolves.toBeNull();
    client.isOpen = false;
    client.isReady = false;
    await expect(store.get("a", options())).rejects.toThrow(/call `await client.connect\(\)`/);
    // compareAndSet only where the client's write API is known; close() takes our listeners back off.
    expect(store.compareAndSet).toBeUndefined();
    await store.close!();
    await store.close!();
    expect(listeners.get("error")).toEqual([]);
    expect(listeners.get("ready")).toEqual([]);
  });

  it("a node-redis-like client still connecting for the first time is waited for until ready, or until the signal aborts", async () => {
    const listeners = new Map<string, Array<(...args: unknown[]) => void>>();
    const client = {
      isOpen: true,
      isReady: false,
      get: async () => null,
      on(event: string, listener: (...args: unknown[]) => void) {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
        return this;
      },
    };
    const store = redisStore({ client });
    const deadline = new AbortController();
    const abandoned = store.get("a", options(deadline.signal));
    deadline.abort(new Error("timed out"));
    await expect(abandoned).rejects.toThrow("timed out");
    const waiting = store.get("a", options());
    client.isReady = true;
    for (const listener of listeners.get("ready") ?? []) listener();
    await expect(waiting).resolves.toBeNull();
  });

  it("a client known only by get(): no compareAndSet, and never a set or destroy", () => {
    const store = redisStore({ client: promiseClient() });
    expect(store.compareAndSet).toBeUndefined();
    expect((store as unknown as Record<string, unknown>).set).toBeUndefined();
    expect((store as unknown as Record<string, unknown>).destroy).toBeUndefined();
  });

  it("has no set or destroy with a client that could write: writes go through compareAndSet", () => {
    const client = { status: "ready", get: async () => null, set: async () => "OK", del: async () => 1 };
    const store = redisStore({ client, serializer: JSON });
    expect((store as unknown as Record<string, unknown>).set).toBeUndefined();
    expect((store as unknown as Record<string, unknown>).destroy).toBeUndefined();
  });
});

describe("one client shared by many stores", () => {
  it("gets one pair of listeners, however many stores use it, and loses them when the last closes", async () => {
    const { Redis: IORedis } = await import("ioredis");
    const client = new IORedis({ lazyConnect: true });
    const before = client.listenerCount("error");
    const stores = Array.from({ length: 12 }, (_, i) => redisStore({ client, prefix: `p${i}:` }));
    expect(client.listenerCount("error")).toBe(before + 1);
    expect(client.listenerCount("ready")).toBe(1);
    for (const store of stores.slice(1)) await store.close!();
    expect(client.listenerCount("error")).toBe(before + 1);
    await stores[0]!.close!();
    expect(client.listenerCount("error")).toBe(before);
    client.disconnect();
  });
});

describe("redisStore refuses a client of the wrong kind when it is built", () => {
  // Real driver objects where they can exist here (node-redis v6, ioredis, mongodb, connect-redis); the
  // shapes of drivers not installed (node-redis v3, v4's legacyMode) as their sources define them.
  it.each([
    [
      "node-redis v5+ `.legacy()`",
      async () => (await import("redis")).createClient().legacy(),
      /legacy-mode client.*not through `.legacy\(\)`/,
    ],
    [
      "node-redis v4 `legacyMode: true`",
      async () => ({ isOpen: true, isReady: true, v4: {}, get: () => undefined, on() {} }),
      /legacy-mode client/,
    ],
    [
      "node-redis v3",
      async () => ({ connected: true, send_command: () => true, get: () => true, on() {} }),
      /callback-style Redis client.*upgrade to node-redis v4/,
    ],
    [
      "connect-redis's RedisStore",
      async () => {
        const { RedisStore } = await import("connect-redis");
        return new RedisStore({ client: (await import("redis")).createClient() });
      },
      /an express-session store \(RedisStore\).*pass the Redis client it was given/,
    ],
    ["a promise of a client", async () => [(async () => ({ get: async () => null }))()], /a promise.*await it/],
    [
      "a MongoClient",
      async () => new (await import("mongodb")).MongoClient("mongodb://127.0.0.1:1"),
      /a MongoClient.*use mongoStore/,
    ],
    ["a function", async () => () => undefined, /got a function/],
  ])("%s: a TypeError naming `client`, saying what was given and what to pass", async (_label, make, message) => {
    const made = await make();
    // A promise cannot come out of an async function as itself: it arrives wrapped in an array.
    const given = Array.isArray(made) ? made[0] : made;
    const build = () => redisStore({ client: given as never });
    expect(build).toThrow(TypeError);
    expect(build).toThrow(message);
    expect(build).toThrow(/redisStore: `client`.*Pass a connected ioredis client/);
  });

  it("`subscriber`: the same kind as `client`, not the client itself, and a client at all", async () => {
    const { Redis: IORedis } = await import("ioredis");
    const { createClient } = await import("redis");
    const io = new IORedis({ lazyConnect: true });
    const other = new IORedis({ lazyConnect: true });
    const node = createClient();
    try {
      expect(() => redisStore({ client: io, subscriber: io })).toThrow(/same object as `client`.*duplicate/);
      expect(() => redisStore({ client: io, subscriber: node })).toThrow(
        /same kind as `client`.*a node-redis client beside an ioredis client/,
      );
      expect(() => redisStore({ client: io, subscriber: node.legacy() as never })).toThrow(
        /`subscriber` must be a Redis client; got a node-redis legacy-mode client/,
      );
      expect(() => redisStore({ client: promiseClient(), subscriber: other })).toThrow(/same kind as `client`/);
      expect(redisStore({ client: io, subscriber: other }).subscribe).toEqual(expect.any(Function));
      expect(redisStore({ client: io }).subscribe).toBeUndefined();
    } finally {
      io.disconnect();
      other.disconnect();
    }
  });

  it("compareAndSet only where the client's EVAL and the serializer's stringify are known", () => {
    const ioredisLike = { status: "ready", get: async () => null, eval: async () => 1 };
    expect(redisStore({ client: ioredisLike }).compareAndSet).toEqual(expect.any(Function));
    expect(redisStore({ client: ioredisLike, serializer: { parse: JSON.parse } }).compareAndSet).toBeUndefined();
    const unknownKind = { get: async () => null, eval: async () => 1 };
    expect(redisStore({ client: unknownKind }).compareAndSet).toBeUndefined();
  });
});

describe("redisStore({ subscriber }) on a server that refuses CONFIG (managed Redis)", () => {
  it("warns once that it could not check notify-keyspace-events, and still subscribes", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const refused = Object.assign(
        new Error("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'notify-keyspace-events'"),
        { name: "ReplyError" },
      );
      const client = { status: "ready", get: async () => null, config: async () => Promise.reject(refused) };
      const subscribed: unknown[][] = [];
      const subscriber = {
        status: "ready",
        get: async () => null,
        subscribe: async (...channels: unknown[]) => void subscribed.push(channels),
        unsubscribe: async () => undefined,
        on: () => undefined,
        off: () => undefined,
      };
      const store = redisStore({ client, subscriber });
      const stop = store.subscribe!(() => {});
      stop();
      store.subscribe!(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      const ours = warnings.filter((w) => (w as { code?: unknown }).code === "SOCKET_IO_SESSION_AUTH_KEYSPACE_EVENTS");
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toMatch(
        /could not check the server's notify-keyspace-events \(CONFIG GET failed: ReplyError/,
      );
      expect(ours[0]!.message).not.toContain("unknown command");
      expect(subscribed).toEqual([
        ["__keyevent@0__:del", "__keyevent@0__:expired", "__keyevent@0__:evicted"],
        ["__keyevent@0__:del", "__keyevent@0__:expired", "__keyevent@0__:evicted"],
      ]);
      await store.close!();
    } finally {
      process.off("warning", onWarning);
    }
  });
});
