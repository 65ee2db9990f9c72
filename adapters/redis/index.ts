import {
  describeGiven,
  describeValue,
  isPromiseLike,
  readSession,
  redisFlavor,
  rejectUnknownOptions,
  type SessionData,
  type SessionRecord,
  type SessionStore,
  type StoreGetOptions,
} from "socket.io-session-auth/adapter";
import {
  addressing,
  checkClient,
  driverOf,
  isCluster,
  textOf,
  type ClusterProbe,
  type RedisClientLike,
} from "./client.js";
import { keyspaceEvents } from "./keyspace.js";

// Set by sessionAuth's lookups (src/pipeline.ts): the caller stops waiting at its own deadline.
const OWN_DEADLINE = Symbol.for("socket.io-session-auth.ownDeadline");
// Between sessionAuth's core and this package's adapters only: a read answered through a callback, with
// no promise of ours on the handshake's path (issue 22; see src/pipeline.ts).
const GET_THEN = Symbol.for("socket.io-session-auth.getThen");

type Done<S extends object> = (error: unknown, record?: SessionRecord<S> | null) => void;

// Between sessionAuth's core and this package's adapters only (see src/copy.ts): a record of JSON data
// made for this read, which the core copies without looking for symbol keys (issue 22). Made only for
// the core's callback read (GET_THEN), where no wrapper stands between; `get` returns plain records.
class JsonRecord<S extends object> implements SessionRecord<S> {
  constructor(
    public session: S,
    public expires: Date | null,
    public revision: unknown,
  ) {}
}
(JsonRecord.prototype as unknown as Record<symbol, boolean>)[Symbol.for("socket.io-session-auth.jsonRecord")] = true;

export type { RedisClientLike } from "./client.js";

/** connect-redis's `serializer` shape: `JSON` by default. `parse` may return a promise, as connect-redis allows. */
export interface RedisSerializer {
  parse(text: string): unknown;
  /** Needed only by `compareAndSet` (`auth.update()`); without it the store has no `compareAndSet`. */
  stringify?(value: unknown): string;
}

// The type parameter is kept (it typed the removed `ttl`): `RedisStoreOptions<MySession>` still compiles.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface RedisStoreOptions<S extends object = SessionData> {
  /**
   * A connected client: ioredis `new Redis(...)` / `new Cluster(...)`, or node-redis v4+
   * `await createClient(...).connect()`. The store never connects, quits or reconfigures it.
   */
  client: RedisClientLike;
  /** Key prefix, the same as connect-redis's `prefix` (default `"sess:"`). */
  prefix?: string;
  /** The same as connect-redis's `serializer` (default `JSON`). */
  serializer?: RedisSerializer;
  /**
   * A second connected client of the same kind as `client` (`client.duplicate()`, connected), used only
   * to listen to Redis keyspace notifications: with it the store has `subscribe`, and a session deleted
   * (connect-redis's destroy, logout) or expired in Redis ends its sockets at once, on every node. It is
   * put in subscriber mode, so give it to nothing else, not even another `redisStore` (a TypeError while
   * the other store is open: pass each store its own duplicate). The server must publish key events: set
   * `notify-keyspace-events` to at least `Egx` (plus `e` for evictions), on every master of a Cluster;
   * the store checks it when it starts listening and warns once if not. Never quit by the store.
   */
  subscriber?: RedisClientLike;
}

const KNOWN_OPTIONS = new Set(["client", "prefix", "serializer", "subscriber"]);
const REMOVED_OPTIONS = {
  ttl: "it served only the store's `set`, which is gone (the core never wrote through it). Writes go through compareAndSet, which keeps each key's TTL; the sessions' lifetime is connect-redis's own `ttl`. Leave it out.",
};
/**
 * Subscribers that an open store listens on. Two stores on one subscriber cannot both live: ioredis's
 * UNSUBSCRIBE at the first one's close() ends the connection's subscription for the other too, silently
 * (issue 18, item 2), so the second is refused when it is built.
 */
const subscribersInUse = new WeakSet<object>();
/**
 * The compare-and-set of `compareAndSet`, in one step of the server: writes ARGV[2] only while the key
 * still holds ARGV[1] (the text the revision was read as), and keeps the key's TTL (KEEPTTL, Redis 6.0+)
 * rather than recomputing it. One key, so it runs on a Cluster too.
 */
const COMPARE_AND_SET =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end return 0";

/**
 * Reads the sessions that connect-redis (v7 to v10) writes: the key `<prefix><sid>` holding the
 * serialized session, with the session's lifetime as the key's TTL.
 *
 * One GET per lookup and nothing else: Redis never returns an expired key, so a key that is there is
 * live, whatever the stored `cookie.expires` says (connect-redis refreshes only the TTL on touch, so that
 * field goes stale and is ignored here).
 *
 * When the client is not connected (ioredis `status` not "ready", node-redis `isReady` false) a lookup
 * rejects at once, so the handshake is refused with `STORE_UNAVAILABLE` instead of waiting in the
 * client's offline queue; when the client reconnects, lookups work again by themselves. The exception is
 * a client still connecting for the first time (never ready since the store was built: an app starting
 * while Redis starts): a lookup waits for its first `ready`, up to the `timeout` of `sessionAuth`.
 *
 * Each record carries the stored text as its `revision`; `compareAndSet` (ioredis and node-redis, when
 * the serializer has `stringify`) runs one Lua script that writes only while the key still holds that
 * text, with `KEEPTTL` (Redis 6.0 or later). With `subscriber`, the store has `subscribe` (see the option).
 *
 * Throws a `TypeError` naming the option when the options are wrong, including a client of the wrong
 * kind (node-redis in legacy mode or v3, a callback client, connect-redis's `RedisStore`, a promise).
 */
export function redisStore<S extends object = SessionData>(options: RedisStoreOptions<S>): SessionStore<S> {
  const { client, prefix, serializer, flavor, subscriber } = validate(options);
  const probe = client as RedisClientLike & { eval?: unknown };
  const driver = driverOf(client);
  const subscriberDriver = subscriber === undefined ? undefined : driverOf(subscriber);
  const command = driver.command;
  let closed = false;

  // One GET, answered through `done` once. The key's TTL is the expiry, and Redis already enforced it:
  // no second round trip (PTTL) per handshake.
  // JSON's own parse (connect-redis's default serializer) makes JSON data; another serializer may not.
  const parsesJson = serializer === JSON;
  // `forCore`: the core's callback read (GET_THEN), which gets JSON records marked as such; `get` plain ones.
  const read = (id: string, options: StoreGetOptions, forCore: boolean, done: Done<S>): void => {
    const { report } = options;
    // sessionAuth's lookups stop waiting at their own deadline: their signal is made only if the
    // command must wait for the client's first ready (no AbortController per handshake, issue 22).
    const ownDeadline = (options as unknown as Record<symbol, unknown>)[OWN_DEADLINE] === true;
    command(() => client.get(prefix + id), ownDeadline ? () => options.signal : options.signal).then(
      (raw) => {
        if (raw === null || raw === undefined) return done(undefined, null);
        let text: string;
        try {
          text = textOf(raw); // a TypeError for a reply of another type (a client mapped to other types)
        } catch (error) {
          return done(error);
        }
        // The common case in place: a serializer that parses synchronously (JSON) into an object.
        let parsed: unknown;
        let failed = false;
        try {
          parsed = serializer.parse(text);
        } catch (error) {
          failed = true;
          parsed = error;
        }
        if (
          !failed &&
          typeof parsed === "object" &&
          parsed !== null &&
          !Array.isArray(parsed) &&
          !isPromiseLike(parsed)
        )
          return done(
            undefined,
            forCore && parsesJson
              ? new JsonRecord(parsed as S, null, text)
              : { session: parsed as S, expires: null, revision: text },
          );
        // Anything else (a promise, a failure, not an object) the long way, which reports what went wrong,
        // with this very answer: a serializer is never called twice (it may decrypt), and its promise is
        // always awaited (a rejection left alone would be an unhandled one).
        readSession<S>(text, report, {
          parse: () => {
            if (failed) throw parsed;
            return parsed;
          },
          what: "the value under the session key",
        }).then(
          (session) => done(undefined, session === null ? null : { session, expires: null, revision: text }),
          (error: unknown) => done(error ?? new Error("parsing the session failed")),
        );
      },
      (error: unknown) => done(error ?? new Error("the Redis GET failed")),
    );
  };

  const store: SessionStore<S> = {
    name: "redis",
    where: `keys "${addressing(client).keyPrefix}${prefix}<id>"`,
    get: (id, options) =>
      new Promise((resolve, reject) =>
        read(id, options, false, (error, record) => (error === undefined ? resolve(record!) : reject(error))),
      ),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      keyspace?.stop();
      if (subscriber !== undefined) subscribersInUse.delete(subscriber);
      driver.release();
      subscriberDriver?.release();
    },
  };

  // The core's callback read: not enumerable (a spread of the store does not copy it), and tied to this
  // `get`, so a wrapper that replaces `get` is always called.
  Object.defineProperty(store, GET_THEN, {
    value: {
      get: store.get,
      read: (id: string, options: StoreGetOptions, done: Done<S>) => read(id, options, true, done),
    },
  });

  // Keyspace notifications: one subscription per store, shared by every subscribe() call.
  if (subscriber !== undefined) subscribersInUse.add(subscriber);
  const keyspace = subscriber === undefined ? undefined : keyspaceEvents(client, subscriber, flavor, prefix);
  if (keyspace !== undefined) store.subscribe = keyspace.subscribe;

  const run = probe.eval;
  const stringify = serializer.stringify;
  if (flavor !== "promise" && typeof run === "function" && typeof stringify === "function") {
    const evaluate = run as (...args: unknown[]) => PromiseLike<unknown>;
    store.compareAndSet = async (id, revision, session, { signal }) => {
      if (typeof revision !== "string") {
        throw new TypeError(
          `redisStore.compareAndSet: the revision must be the stored text a record carried; got ${describeValue(revision)}`,
        );
      }
      const key = prefix + id;
      // Serialized as connect-redis serializes, so the web app's next request reads our bytes as its own.
      const text = stringify.call(serializer, session);
      const reply = await command(
        () =>
          flavor === "ioredis"
            ? evaluate.call(client, COMPARE_AND_SET, 1, key, revision, text)
            : evaluate.call(client, COMPARE_AND_SET, { keys: [key], arguments: [revision, text] }),
        signal,
      );
      if (reply !== 1 && reply !== 0)
        throw new TypeError(`the client answered ${describeValue(reply)} to EVAL, not 0 or 1`);
      return reply === 1;
    };
  }

  return store;
}

function validate<S extends object>(options: RedisStoreOptions<S>) {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("redisStore: pass an options object, e.g. redisStore({ client }).");
  }
  rejectUnknownOptions("redisStore", options, KNOWN_OPTIONS, {
    hints: { keyPrefix: "prefix" },
    removed: REMOVED_OPTIONS,
  });
  const { client, prefix = "sess:", serializer = JSON as RedisSerializer } = options;
  checkClient("client", client);
  const flavor = redisFlavor(client);
  const { subscriber } = options;
  if (subscriber !== undefined) {
    checkClient("subscriber", subscriber);
    if (subscriber === client) {
      throw new TypeError(
        "redisStore: `subscriber` is the same object as `client`; a client listening to notifications can send no other command: pass `client.duplicate()` (connected).",
      );
    }
    if (subscribersInUse.has(subscriber)) {
      throw new TypeError(
        "redisStore: this `subscriber` already listens for another redisStore that is not closed; closing that store would silently end this one's subscription too. Give each store its own `client.duplicate()` (connected), or close() the other store first.",
      );
    }
    const kind = redisFlavor(subscriber);
    if (flavor === "promise" || kind !== flavor) {
      throw new TypeError(
        `redisStore: \`subscriber\` must be a client of the same kind as \`client\` (ioredis with ioredis, node-redis with node-redis), e.g. \`client.duplicate()\`; got ${describeGiven(subscriber)} beside ${describeGiven(client)}.`,
      );
    }
    const clusters = [client, subscriber].map((each) => isCluster(each as ClusterProbe));
    if (clusters[0] !== clusters[1]) {
      throw new TypeError(
        "redisStore: `subscriber` must be a Cluster client when `client` is one, and a single-node client when `client` is one (`client.duplicate()`).",
      );
    }
  }
  if (typeof prefix !== "string") {
    throw new TypeError(
      `redisStore: \`prefix\` must be a string (connect-redis's prefix, default "sess:"); got ${describeValue(prefix)}.`,
    );
  }
  if (typeof serializer !== "object" || serializer === null || typeof serializer.parse !== "function") {
    throw new TypeError(
      "redisStore: `serializer` must be an object with parse(text) (and stringify(value) for compareAndSet), like connect-redis's; default JSON.",
    );
  }
  return { client, prefix, serializer, flavor, subscriber };
}
