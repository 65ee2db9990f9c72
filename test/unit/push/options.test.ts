import { Server, type Namespace } from "socket.io";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { sessionAuth, sessionRoom, type SessionStore } from "socket.io-session-auth";
import { createPushClient } from "socket.io-session-auth/push-client";
import {
  createPushRouter,
  isPushError,
  PUSH_ERROR_CODES,
  PushError,
  pushErrorStatus,
  type PushAccepted,
  type PushDelivered,
} from "socket.io-session-auth/push";
import { createIdempotencyCache, fingerprint, memoryAnswers } from "../../../src/push/idempotency.js";
import { createNodeTracker } from "../../../src/internal/nodes.js";

/** Has the shape of an ioredis client; never called by the option checks. */
function fakeRedis() {
  return { status: "ready", get: async () => null, set: async () => "OK", del: async () => 1 };
}

const TOKEN = "0123456789abcdef0123";
// A Server with no HTTP server attached: no socket, no port, only the object the router talks to.
const io = new Server();

describe("createPushRouter options", () => {
  it("throws a TypeError naming the option", () => {
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /pass an options object/],
      [{}, /`tokens` is required/],
      [{ tokens: [] }, /`tokens` is required/],
      [{ tokens: [undefined] }, /`tokens\[0\]` must be a string.*got undefined/],
      // A token given as a number (an unquoted environment value in a config file) is a secret: not echoed.
      [{ tokens: [9007199254740991] }, /`tokens\[0\]` must be a string.*got a number \(/],
      [{ tokens: [TOKEN, "short"] }, /`tokens\[1\]` .* at least 16 .*got 5 characters/],
      [{ tokens: ["has a space in it, long"] }, /`tokens\[0\]`/],
      [{ token: TOKEN }, /unknown option `token` \(did you mean `tokens`\?\)/],
      [{ tokens: TOKEN, path: "push" }, /`path` must start with "\/"/],
      [{ tokens: TOKEN, path: "/push/" }, /`path`/],
      [{ tokens: TOKEN, path: "/push?x" }, /`path`/],
      [{ tokens: TOKEN, maxBodyBytes: 0 }, /`maxBodyBytes` must be a whole number/],
      [{ tokens: TOKEN, maxBodyBytes: "1mb" }, /`maxBodyBytes`/],
      [{ tokens: TOKEN, readTimeout: -1 }, /`readTimeout`/],
      [{ tokens: TOKEN, maxTargets: 1.5 }, /`maxTargets`/],
      [{ tokens: TOKEN, maxBatch: 0 }, /`maxBatch`/],
      [{ tokens: TOKEN, idempotency: true }, /`idempotency` must be false or/],
      [{ tokens: TOKEN, idempotency: { ttl: 0 } }, /`idempotency.ttl`/],
      [{ tokens: TOKEN, idempotency: { max: 5 } }, /unknown option `idempotency.max`/],
      [{ tokens: TOKEN, idempotency: { redis: {} as never } }, /`idempotency.redis` must be a connected Redis client/],
      [
        { tokens: TOKEN, idempotency: { redis: { get() {}, set() {}, status: "ready" } as never } },
        /`idempotency.redis` must be a connected Redis client/,
      ],
      [
        { tokens: TOKEN, idempotency: { redis: fakeRedis(), maxKeys: 5 } },
        /`idempotency.maxKeys` bounds the in-process memory/,
      ],
      [{ tokens: TOKEN, idempotency: { redis: fakeRedis(), prefix: "" } }, /`idempotency.prefix`/],
      [{ tokens: TOKEN, idempotency: { redis: fakeRedis(), timeout: 0 } }, /`idempotency.timeout`/],
      [{ tokens: TOKEN, idempotency: { prefix: "p:" } }, /apply to the Redis store only/],
      [{ tokens: TOKEN, clusterTimeout: 0 }, /`clusterTimeout`/],
      [{ tokens: TOKEN, namespaces: [] }, /`namespaces`/],
      [{ tokens: TOKEN, namespaces: ["chat"] }, /`namespaces`/],
      [{ tokens: TOKEN, rooms: { user: 5 } }, /createPushRouter: `rooms.user`/],
      [{ tokens: TOKEN, auth: {} }, /`auth` must be the value sessionAuth/],
      [
        { tokens: TOKEN, auth: { rooms: { user: "u:", session: null } }, rooms: false },
        /pass `auth` or `rooms`, not both/,
      ],
      [{ tokens: TOKEN, onError: "log" }, /`onError`/],
    ];
    for (const [options, message] of cases) {
      expect(() => createPushRouter(io, options as never), JSON.stringify(options)).toThrow(TypeError);
      expect(() => createPushRouter(io, options as never)).toThrow(message);
    }
    expect(() => createPushRouter({} as never, { tokens: TOKEN })).toThrow(
      /first argument must be the socket.io Server/,
    );
  });

  it("never puts a token in an error message", () => {
    const secret = "sup3r-secret-but-too-short";
    try {
      createPushRouter(io, { tokens: [TOKEN, `${secret} with space`] });
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
  });

  it("accepts the documented shapes, including a sessionAuth as `auth`", () => {
    const store: SessionStore = { name: "none", get: async () => null };
    const auth = sessionAuth({ store, secret: "s", rooms: { user: "u/" } });
    expect(() => createPushRouter(io, { tokens: TOKEN })).not.toThrow();
    expect(() =>
      createPushRouter(io, {
        tokens: [TOKEN, `${TOKEN}-next`],
        auth,
        path: "/internal/push",
        namespaces: ["/", "/chat"],
      }),
    ).not.toThrow();
    expect(() =>
      createPushRouter(io, { tokens: TOKEN, rooms: false, idempotency: false, maxBodyBytes: 64 }),
    ).not.toThrow();
    // A typed Server is accepted as it is.
    const typed = new Server<{ hello: () => void }, { news: (data: { n: number }) => void }>();
    expect(() => createPushRouter(typed, { tokens: TOKEN })).not.toThrow();
  });

  it("types send()'s answer by whether the message asks for acks", () => {
    const push = createPushRouter(io, { tokens: TOKEN });
    expectTypeOf(push.send({ to: { user: 1 } })).resolves.toEqualTypeOf<PushAccepted>();
    expectTypeOf(push.send({ to: { user: 1 }, ack: { timeout: 10 } })).resolves.toEqualTypeOf<PushDelivered>();
  });
});

describe("createPushRouter defaults", () => {
  afterEach(() => void vi.useRealTimers());

  /** A Server whose adapter counts broadcasts: what reached socket.io, without any socket. */
  function counting() {
    const Base = new Server().of("/").adapter.constructor as new (nsp: Namespace) => Namespace["adapter"];
    const counted = { broadcasts: 0, rooms: [] as string[][] };
    class Counting extends Base {
      override broadcast(...args: Parameters<Namespace["adapter"]["broadcast"]>) {
        counted.broadcasts++;
        counted.rooms.push([...args[1].rooms]);
        super.broadcast(...args);
      }
    }
    return { io: new Server({ adapter: Counting as never }), counted };
  }

  it("remembers an id for 5 minutes", async () => {
    vi.useFakeTimers({ toFake: ["performance", "Date"] });
    const { io, counted } = counting();
    const push = createPushRouter(io, { tokens: TOKEN });
    await push.send({ id: "once", to: { room: "r" } });
    vi.advanceTimersByTime(5 * 60_000 - 1);
    await push.send({ id: "once", to: { room: "r" } });
    expect(counted.broadcasts).toBe(1);
    vi.advanceTimersByTime(1);
    await push.send({ id: "once", to: { room: "r" } });
    expect(counted.broadcasts).toBe(2);
  });

  it("remembers at most 10,000 ids, forgetting the oldest", async () => {
    const { io, counted } = counting();
    const push = createPushRouter(io, { tokens: TOKEN });
    for (let i = 0; i <= 10_000; i++) await push.send({ id: `m${i}`, to: { room: "r" } });
    expect(counted.broadcasts).toBe(10_001);
    await push.send({ id: "m10000", to: { room: "r" } });
    await push.send({ id: "m1", to: { room: "r" } });
    expect(counted.broadcasts).toBe(10_001);
    await push.send({ id: "m0", to: { room: "r" } }); // the oldest, dropped for m10000
    expect(counted.broadcasts).toBe(10_002);
  });

  it("caps targets at 100 and serves only / by default", async () => {
    const push = createPushRouter(io, { tokens: TOKEN });
    await expect(push.send({ to: { room: Array.from({ length: 100 }, (_, i) => `r${i}`) } })).resolves.toMatchObject({
      ok: true,
    });
    await expect(push.send({ to: { room: Array.from({ length: 101 }, (_, i) => `r${i}`) } })).rejects.toMatchObject({
      code: "TOO_MANY_TARGETS",
    });
    await expect(push.send({ to: { room: "r" }, namespace: "/chat" })).rejects.toMatchObject({
      code: "UNKNOWN_NAMESPACE",
      status: 404,
    });
  });

  it("names rooms user: and session: by default, as sessionAuth does", async () => {
    const { io, counted } = counting();
    const push = createPushRouter(io, { tokens: TOKEN });
    await push.send({ to: { user: 42, session: "raw-session-id" } });
    expect(counted.rooms).toEqual([["user:42", sessionRoom("raw-session-id")]]);
    expect(sessionRoom("raw-session-id")).toMatch(/^session:[0-9a-f]{32}$/);
  });
});

describe("createPushClient options", () => {
  it("throws a TypeError naming the option", () => {
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /pass an options object/],
      [{ token: TOKEN }, /`url` must be an absolute/],
      [{ url: "realtime/push", token: TOKEN }, /`url` must be an absolute/],
      [{ url: "ftp://x/push", token: TOKEN }, /http: or https:/],
      [{ url: `http://x/push?token=${TOKEN}`, token: TOKEN }, /no credentials, query or fragment/],
      [{ url: "http://user:pw@x/push", token: TOKEN }, /no credentials/],
      [{ url: "http://x/push" }, /`token` must be/],
      [{ url: "http://x/push", token: "a b" }, /`token` must be/],
      [{ url: "http://x/push", token: TOKEN, timeout: 0 }, /`timeout`/],
      [{ url: "http://x/push", token: TOKEN, retries: -1 }, /`retries`/],
      [{ url: "http://x/push", token: TOKEN, retries: 1.5 }, /`retries`/],
      [{ url: "http://x/push", token: TOKEN, fetch: "no" }, /`fetch`/],
      [{ url: "http://x/push", token: TOKEN, tokens: [] }, /unknown option `tokens`/],
    ];
    for (const [options, message] of cases) {
      expect(() => createPushClient(options as never)).toThrow(TypeError);
      expect(() => createPushClient(options as never)).toThrow(message);
    }
    expect(() => createPushClient({ url: new URL("https://realtime.internal/push/"), token: TOKEN })).not.toThrow();
  });
});

describe("PushError", () => {
  it("carries code, status, path, and a JSON form without cause", () => {
    const error = new PushError("INVALID_MESSAGE", "to: bad", { path: "to", cause: new Error("inner") });
    expect(error).toMatchObject({
      name: "PushError",
      code: "INVALID_MESSAGE",
      status: 400,
      path: "to",
      retryable: false,
    });
    expect(error.toJSON()).toEqual({ ok: false, error: { code: "INVALID_MESSAGE", message: "to: bad", path: "to" } });
    expect(new PushError("SHUTTING_DOWN", "bye").retryable).toBe(true);
    expect(new PushError("NETWORK_ERROR", "x").status).toBe(0);
    expect(new PushError("SOMETHING_NEW", "from a newer server", { status: 422 }).status).toBe(422);
    expect(isPushError(Object.assign(new Error("x"), { name: "PushError", code: "X", status: 400 }))).toBe(true);
    expect(isPushError(new Error("x"))).toBe(false);
  });

  it("has a status for every code", () => {
    for (const code of PUSH_ERROR_CODES) expect(typeof pushErrorStatus(code)).toBe("number");
    expect(PUSH_ERROR_CODES.filter((code) => pushErrorStatus(code) === 0)).toEqual([
      "NETWORK_ERROR",
      "TIMEOUT",
      "BAD_RESPONSE",
    ]);
  });
});

describe("idempotency cache", () => {
  it("remembers for ttl, then forgets", () => {
    let now = 0;
    const cache = createIdempotencyCache<string>({ ttl: 1000, maxKeys: 10, now: () => now });
    cache.set("a", "first");
    now = 999;
    expect(cache.get("a")).toBe("first");
    now = 1000;
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("stays within maxKeys, dropping the oldest first", () => {
    let now = 0;
    const cache = createIdempotencyCache<number>({ ttl: 60_000, maxKeys: 100, now: () => now });
    for (let i = 0; i < 10_000; i++) {
      now++;
      cache.set(`k${i}`, i);
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.get("k9999")).toBe(9999);
    expect(cache.get("k9900")).toBe(9900);
    expect(cache.get("k9899")).toBeUndefined();
  });

  it("sweeps expired entries as new ones arrive, without a timer", () => {
    let now = 0;
    const cache = createIdempotencyCache<number>({ ttl: 10, maxKeys: 1000, now: () => now });
    for (let i = 0; i < 50; i++) cache.set(`old${i}`, i);
    now = 20;
    cache.set("new", 1);
    expect(cache.size).toBe(1);
  });
});

describe("idempotency: answers bound to their payload", () => {
  it("replays the first answer for the same fingerprint and refuses another with 422", async () => {
    const store = memoryAnswers({ ttl: 1000, maxKeys: 10 });
    const first = store.claim("k", "print-a", { wait: 0 });
    expect(first.fresh).toBe(true);
    const repeat = store.claim("k", "print-a", { wait: 0 });
    expect(repeat.fresh).toBe(false);
    if (first.fresh) first.settle({ status: 202, body: { ok: true, id: "k" } });
    if (!repeat.fresh) expect(await repeat.answer).toEqual({ status: 202, body: { ok: true, id: "k" } });
    expect(() => store.claim("k", "print-b", { wait: 0 })).toThrow(
      expect.objectContaining({ code: "IDEMPOTENCY_KEY_REUSED", status: 422 }),
    );
  });

  it("forgets a failed run, so its retry runs for real", () => {
    const store = memoryAnswers({ ttl: 1000, maxKeys: 10 });
    const first = store.claim("k", "p", { wait: 0 });
    if (first.fresh) first.abandon(new Error("adapter down"));
    expect(store.claim("k", "p", { wait: 0 }).fresh).toBe(true);
  });

  it("fingerprints sort nothing but what it is given, and hash binary data by its bytes", () => {
    expect(fingerprint([1, "a"])).toBe(fingerprint([1, "a"]));
    expect(fingerprint([1, "a"])).not.toBe(fingerprint(["a", 1]));
    expect(fingerprint([new Uint8Array([1, 2])])).not.toBe(fingerprint([new Uint8Array([1, 3])]));
    expect(fingerprint([new Uint8Array([1, 2]).buffer])).not.toBe(fingerprint([new Uint8Array([1, 3]).buffer]));
    expect(fingerprint(["x"])).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("node tracker: how many nodes a complete answer needs", () => {
  it("believes a rise at once, and a drop only once it has held for `settle` ms", () => {
    let now = 0;
    const nodes = createNodeTracker({ settle: 10_000, now: () => now });
    expect(nodes.expect(1)).toBe(1);
    expect(nodes.expect(3)).toBe(3);
    now = 1000;
    expect(nodes.expect(2)).toBe(3); // a node missing right after a Redis outage: still 3 expected
    now = 5000;
    expect(nodes.expect(3)).toBe(3); // it came back: the drop is forgotten
    expect(nodes.expect(2)).toBe(3);
    now = 14_999;
    expect(nodes.expect(2)).toBe(3);
    now = 15_000;
    expect(nodes.expect(2)).toBe(2); // it really left
    expect(nodes.expect(1)).toBe(2);
  });
});
