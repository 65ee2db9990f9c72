import { abortable, describeValue, readSession, type SessionData, type SessionRecord, type SessionStore } from "socket.io-session-auth";

/**
 * What the adapter needs of a Redis client: `get(key)` returning a promise. ioredis `Redis` and `Cluster`,
 * and node-redis v4+ `createClient()` / `createCluster()` all fit. Typed structurally on purpose, so this
 * entry point's types never name a driver the user did not install.
 */
export interface RedisClientLike {
  get(key: string): PromiseLike<unknown>;
}

/** connect-redis's `serializer` shape: `JSON` by default. `parse` may return a promise, as connect-redis allows. */
export interface RedisSerializer {
  parse(text: string): unknown;
  /** Needed only by `set`; without it the store has no `set`. */
  stringify?(value: unknown): string;
}

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
   * Used by `set` only, exactly as connect-redis's `ttl`: seconds for a session whose `cookie.expires` is
   * unset (default 86400), or a function `(session) => seconds` that replaces the rule.
   */
  ttl?: number | ((session: S) => number);
}

const KNOWN_OPTIONS = new Set(["client", "prefix", "serializer", "ttl"]);
const DEFAULT_TTL_S = 86_400; // connect-redis's default

type Flavor = "ioredis" | "node-redis" | "promise";

/** The members we detect at run time; none of them is required by {@link RedisClientLike}. */
interface ClientProbe {
  status?: unknown; // ioredis Redis and Cluster: "wait" | "connecting" | "connect" | "ready" | "reconnecting" | "close" | "end"...
  isReady?: unknown; // node-redis v4.1+ client and cluster
  isOpen?: unknown; // node-redis v4+ client and cluster
  set?: unknown;
  del?: unknown;
  on?: unknown;
  off?: unknown;
  removeListener?: unknown;
}

type Listener = (...args: unknown[]) => void;

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
 * client's offline queue; when the client reconnects, lookups work again by themselves.
 *
 * Throws a `TypeError` naming the option when the options are wrong.
 */
export function redisStore<S extends object = SessionData>(options: RedisStoreOptions<S>): SessionStore<S> {
  const { client, prefix, serializer, ttl, flavor } = validate(options);
  const probe = client as RedisClientLike & ClientProbe;

  const watch = watchClient(client as object, probe);
  let closed = false;

  function unavailable(): Error | undefined {
    let state: string | undefined;
    if (flavor === "ioredis") {
      // "wait" is ioredis's lazyConnect before the first command: sending one is what connects it.
      if (probe.status === "ready" || probe.status === "wait") return undefined;
      state = probe.status === "end" ? 'status "end": the client was closed and will not reconnect' : `status "${String(probe.status)}"`;
    } else if (flavor === "node-redis") {
      const ready = typeof probe.isReady === "boolean" ? probe.isReady : probe.isOpen;
      if (ready === true) return undefined;
      state = probe.isOpen === false ? "not open: call `await client.connect()` (it will not reconnect by itself)" : "reconnecting";
    } else {
      return undefined;
    }
    return Object.assign(
      new Error(`the Redis client is not ready (${state})`, watch.lastError === undefined ? undefined : { cause: watch.lastError }),
      { code: "REDIS_NOT_READY" },
    );
  }

  function command<T>(run: () => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error("the lookup was aborted"));
    const refused = unavailable();
    if (refused !== undefined) return Promise.reject(refused);
    let pending: PromiseLike<T> | T;
    try {
      pending = run();
    } catch (error) {
      return Promise.reject(error);
    }
    if (!isPromiseLike(pending)) {
      return Promise.reject(
        new TypeError("redisStore: the client did not return a promise (a callback-style client such as node-redis v3 or legacyMode?); pass ioredis or node-redis v4+."),
      );
    }
    if (signal === undefined) return Promise.resolve(pending);
    // abortable keeps both branches attached, so a command that fails after we stopped waiting (ioredis
    // flushing its queue on disconnect) is handled rather than becoming an unhandled rejection.
    return abortable(pending, signal);
  }

  const store: SessionStore<S> = {
    name: "redis",
    async get(id, { signal, report }): Promise<SessionRecord<S> | null> {
      const raw = await command(() => client.get(prefix + id), signal);
      if (raw === null || raw === undefined) return null;
      let text: string;
      if (typeof raw === "string") text = raw;
      else if (raw instanceof Uint8Array) text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8");
      else {
        report(new TypeError(`the client returned ${describeValue(raw)} for GET, not a string`));
        return null;
      }
      const session = await readSession<S>(text, report, { parse: (stored) => serializer.parse(stored as string), what: "the value under the session key" });
      // The key's TTL is the expiry, and Redis already enforced it: no second round trip (PTTL) per handshake.
      return session === null ? null : { session, expires: null };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      watch.release();
    },
  };

  const del = probe.del;
  if (flavor !== "promise" && typeof del === "function") {
    const remove = (key: string): Promise<unknown> => command(() => (del as (key: string) => PromiseLike<unknown>).call(client, key));
    store.destroy = async (id) => void (await remove(prefix + id));

    const set = probe.set;
    const stringify = serializer.stringify;
    if (typeof set === "function" && typeof stringify === "function") {
      store.set = async (id, session) => {
        const key = prefix + id;
        const seconds = ttlOf(session, ttl);
        // connect-redis deletes instead of writing a session whose lifetime is over (or not a number).
        if (!(seconds > 0)) {
          await remove(key);
          return;
        }
        const text = stringify.call(serializer, session);
        const write = set as (...args: unknown[]) => PromiseLike<unknown>;
        await command(() =>
          flavor === "ioredis" ? write.call(client, key, text, "EX", seconds) : write.call(client, key, text, { EX: seconds }),
        );
      };
    }
  }

  return store;
}

/** connect-redis's `getTTL`, rule for rule, so `set` gives a key the lifetime connect-redis would. */
function ttlOf<S extends object>(session: S, ttl: number | ((session: S) => number)): number {
  if (typeof ttl === "function") return ttl(session);
  const expires = (session as SessionData).cookie?.expires;
  if (expires) return Math.ceil((Number(new Date(expires)) - Date.now()) / 1000);
  return ttl;
}

function validate<S extends object>(options: RedisStoreOptions<S>) {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("redisStore: pass an options object, e.g. redisStore({ client }).");
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      const hint = key === "keyPrefix" ? " (did you mean `prefix`?)" : "";
      throw new TypeError(`redisStore: unknown option \`${key}\`${hint}.`);
    }
  }
  const { client, prefix = "sess:", serializer = JSON as RedisSerializer, ttl = DEFAULT_TTL_S } = options;
  if (typeof client !== "object" || client === null || typeof (client as { get?: unknown }).get !== "function") {
    throw new TypeError(
      "redisStore: `client` is required: a connected Redis client whose get(key) returns a promise (ioredis `new Redis()` or `new Cluster()`, node-redis v4+ `createClient()`).",
    );
  }
  if (typeof prefix !== "string") {
    throw new TypeError(`redisStore: \`prefix\` must be a string (connect-redis's prefix, default "sess:"); got ${describeValue(prefix)}.`);
  }
  if (typeof serializer !== "object" || serializer === null || typeof serializer.parse !== "function") {
    throw new TypeError("redisStore: `serializer` must be an object with parse(text) (and stringify(value) for set), like connect-redis's; default JSON.");
  }
  if (typeof ttl !== "function" && (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl <= 0)) {
    throw new TypeError(`redisStore: \`ttl\` must be a whole number of seconds above 0 or a function (session) => seconds, as connect-redis's; got ${describeValue(ttl)}.`);
  }
  return { client, prefix, serializer, ttl, flavor: flavorOf(client as ClientProbe) };
}

interface ClientWatch {
  /** The client's latest connection error, for the cause of a fail-fast refusal. */
  lastError: unknown;
  users: number;
  release(): void;
}

// One pair of listeners per client, however many stores share it (one per prefix, say): Node warns past
// ten listeners of an event. Listening also means an outage never reaches the process as an unhandled
// 'error' event (which node-redis would throw).
const watches = new WeakMap<object, ClientWatch>();

function watchClient(client: object, probe: ClientProbe): ClientWatch {
  const existing = watches.get(client);
  if (existing !== undefined) {
    existing.users++;
    return existing;
  }
  const on = typeof probe.on === "function" ? (probe.on as (event: string, listener: Listener) => unknown) : undefined;
  const off = (typeof probe.off === "function" ? probe.off : probe.removeListener) as ((event: string, listener: Listener) => unknown) | undefined;
  const onError: Listener = (error) => void (watch.lastError = error);
  const onReady: Listener = () => void (watch.lastError = undefined);
  const watch: ClientWatch = {
    lastError: undefined,
    users: 1,
    release() {
      if (--watch.users > 0) return;
      watches.delete(client);
      if (on !== undefined && typeof off === "function") {
        off.call(client, "error", onError);
        off.call(client, "ready", onReady);
      }
    },
  };
  if (on !== undefined) {
    on.call(client, "error", onError);
    on.call(client, "ready", onReady);
  }
  watches.set(client, watch);
  return watch;
}

function flavorOf(client: ClientProbe): Flavor {
  if (typeof client.status === "string") return "ioredis";
  if (typeof client.isReady === "boolean" || typeof client.isOpen === "boolean") return "node-redis";
  return "promise";
}

function isPromiseLike<T>(value: PromiseLike<T> | T): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

