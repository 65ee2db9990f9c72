import {
  abortable,
  describeValue,
  readSession,
  type SessionData,
  type SessionRecord,
  type SessionStore,
} from "socket.io-session-auth";
import { describeGiven, driverKind } from "../driver-kind.js";

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
  /**
   * A second connected client of the same kind as `client` (`client.duplicate()`, connected), used only
   * to listen to Redis keyspace notifications: with it the store has `subscribe`, and a session deleted
   * (connect-redis's destroy, logout) or expired in Redis ends its sockets at once, on every node. It is
   * put in subscriber mode, so give it to nothing else. The server must publish key events: set
   * `notify-keyspace-events` to at least `Egx` (plus `e` for evictions), on every master of a Cluster;
   * the store checks it when it starts listening and warns once if not. Never quit by the store.
   */
  subscriber?: RedisClientLike;
}

const KNOWN_OPTIONS = new Set(["client", "prefix", "serializer", "ttl", "subscriber"]);
/**
 * The compare-and-set of `compareAndSet`, in one step of the server: writes ARGV[2] only while the key
 * still holds ARGV[1] (the text the revision was read as), and keeps the key's TTL (KEEPTTL, Redis 6.0+)
 * rather than recomputing it. One key, so it runs on a Cluster too.
 */
const COMPARE_AND_SET =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end return 0";
/** The key events that end a session, and the reason each one reports. */
const KEY_EVENTS = { del: "destroyed", expired: "expired", evicted: "destroyed" } as const;
const DEFAULT_TTL_S = 86_400; // connect-redis's default

type Flavor = "ioredis" | "node-redis" | "promise";

/** The members we detect at run time; none of them is required by {@link RedisClientLike}. */
interface ClientProbe {
  status?: unknown; // ioredis Redis and Cluster: "wait" | "connecting" | "connect" | "ready" | "reconnecting" | "close" | "end"...
  isReady?: unknown; // node-redis v4.1+ client and cluster
  isOpen?: unknown; // node-redis v4+ client and cluster
  set?: unknown;
  del?: unknown;
  eval?: unknown;
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
 * Each record carries the stored text as its `revision`; `compareAndSet` (ioredis and node-redis, when
 * the serializer has `stringify`) runs one Lua script that writes only while the key still holds that
 * text, with `KEEPTTL` (Redis 6.0 or later). With `subscriber`, the store has `subscribe` (see the option).
 *
 * Throws a `TypeError` naming the option when the options are wrong, including a client of the wrong
 * kind (node-redis in legacy mode or v3, a callback client, connect-redis's `RedisStore`, a promise).
 */
export function redisStore<S extends object = SessionData>(options: RedisStoreOptions<S>): SessionStore<S> {
  const { client, prefix, serializer, ttl, flavor, subscriber } = validate(options);
  const probe = client as RedisClientLike & ClientProbe;

  const watch = watchClient(client as object, probe);
  const subscriberWatch =
    subscriber === undefined ? undefined : watchClient(subscriber as object, subscriber as ClientProbe);
  let closed = false;

  function unavailable(): Error | undefined {
    let state: string | undefined;
    if (flavor === "ioredis") {
      // "wait" is ioredis's lazyConnect before the first command: sending one is what connects it.
      if (probe.status === "ready" || probe.status === "wait") return undefined;
      state =
        probe.status === "end"
          ? 'status "end": the client was closed and will not reconnect'
          : `status "${String(probe.status)}"`;
    } else if (flavor === "node-redis") {
      const ready = typeof probe.isReady === "boolean" ? probe.isReady : probe.isOpen;
      if (ready === true) return undefined;
      state =
        probe.isOpen === false
          ? "not open: call `await client.connect()` (it will not reconnect by itself)"
          : "reconnecting";
    } else {
      return undefined;
    }
    return Object.assign(
      new Error(
        `the Redis client is not ready (${state})`,
        watch.lastError === undefined ? undefined : { cause: watch.lastError },
      ),
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
        new TypeError(
          "redisStore: the client did not return a promise (a callback-style client such as node-redis v3 or legacyMode?); pass ioredis or node-redis v4+.",
        ),
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
      const text = textOf(raw);
      const session = await readSession<S>(text, report, {
        parse: (stored) => serializer.parse(stored as string),
        what: "the value under the session key",
      });
      // The key's TTL is the expiry, and Redis already enforced it: no second round trip (PTTL) per handshake.
      return session === null ? null : { session, expires: null, revision: text };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      subscription?.stop();
      subscription = undefined;
      callbacks.clear();
      watch.release();
      subscriberWatch?.release();
    },
  };

  // Keyspace notifications: one subscription per store, shared by every subscribe() call.
  const callbacks = new Set<(id: string, reason?: "destroyed" | "expired") => void>();
  let subscription: Subscription | undefined;
  if (subscriber !== undefined) {
    let warned = false;
    const warnOnce = (message: string): void => {
      if (warned) return;
      warned = true;
      process.emitWarning(message, { code: "SOCKET_IO_SESSION_AUTH_KEYSPACE_EVENTS" });
    };
    store.subscribe = (onDestroyed) => {
      const callback = (id: string, reason?: "destroyed" | "expired"): void => onDestroyed(id, reason);
      callbacks.add(callback);
      if (subscription === undefined && !closed) {
        const { db, keyPrefix } = addressing(client);
        const fullPrefix = keyPrefix + prefix;
        subscription = subscribeKeyEvents(
          subscriber,
          flavor,
          db,
          (event, key) => {
            if (!key.startsWith(fullPrefix)) return;
            const id = key.slice(fullPrefix.length);
            for (const each of [...callbacks]) {
              try {
                each(id, KEY_EVENTS[event]);
              } catch {
                // One subscriber's failure must not keep the others from hearing of the end.
              }
            }
          },
          warnOnce,
        );
        void checkKeyspaceEvents(client, flavor).then((problem) => {
          if (problem !== undefined) warnOnce(`socket.io-session-auth: redisStore({ subscriber }) ${problem}`);
        });
      }
      return () => {
        callbacks.delete(callback);
        if (callbacks.size === 0) {
          subscription?.stop();
          subscription = undefined;
        }
      };
    };
  }

  const del = probe.del;
  if (flavor !== "promise" && typeof del === "function") {
    const remove = (key: string): Promise<unknown> =>
      command(() => (del as (key: string) => PromiseLike<unknown>).call(client, key));
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
          flavor === "ioredis"
            ? write.call(client, key, text, "EX", seconds)
            : write.call(client, key, text, { EX: seconds }),
        );
      };
    }
  }

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
  checkClient("client", client);
  const flavor = flavorOf(client as ClientProbe);
  const { subscriber } = options;
  if (subscriber !== undefined) {
    checkClient("subscriber", subscriber);
    if (subscriber === client) {
      throw new TypeError(
        "redisStore: `subscriber` is the same object as `client`; a client listening to notifications can send no other command: pass `client.duplicate()` (connected).",
      );
    }
    const kind = flavorOf(subscriber as ClientProbe);
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
      "redisStore: `serializer` must be an object with parse(text) (and stringify(value) for set), like connect-redis's; default JSON.",
    );
  }
  if (typeof ttl !== "function" && (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl <= 0)) {
    throw new TypeError(
      `redisStore: \`ttl\` must be a whole number of seconds above 0 or a function (session) => seconds, as connect-redis's; got ${describeValue(ttl)}.`,
    );
  }
  return { client, prefix, serializer, ttl, flavor, subscriber };
}

const WHAT_TO_PASS =
  "pass a connected ioredis client (`new Redis()`, `new Cluster()`) or node-redis v4+ client (`await createClient().connect()`, `createCluster()`), whose commands return promises";

/** Refuses, when the store is built, a client that could only fail at every handshake. */
function checkClient(option: "client" | "subscriber", value: unknown): void {
  const kind = driverKind(value);
  let hint = "";
  switch (kind) {
    case "node-redis legacy client":
      hint =
        "; its commands take callbacks: pass the client itself, created without `legacyMode` and not through `.legacy()`";
      break;
    case "callback redis client":
      hint =
        "; node-redis v3 and older take callbacks: upgrade to node-redis v4+ (connect-redis 8+ needs it too) or use ioredis";
      break;
    case "express-session store":
      hint =
        "; that is the web app's session store: pass the Redis client it was given (connect-redis's `client` option)";
      break;
    case "promise":
      hint = "; await it (`await createClient().connect()`) and pass the client";
      break;
    case "MongoClient":
    case "Db":
    case "Collection":
      hint = "; for sessions in MongoDB use mongoStore";
      break;
    case "ioredis client":
    case "node-redis client":
      return;
    default:
      if (typeof value === "object" && value !== null && typeof (value as { get?: unknown }).get === "function") return;
  }
  const required = option === "client" ? "`client` is required" : "`subscriber` must be a Redis client";
  throw new TypeError(
    `redisStore: ${required}; got ${describeGiven(value)}${hint}. ${WHAT_TO_PASS[0]!.toUpperCase()}${WHAT_TO_PASS.slice(1)}.`,
  );
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
  const off = (typeof probe.off === "function" ? probe.off : probe.removeListener) as
    ((event: string, listener: Listener) => unknown) | undefined;
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

/** GET's reply as text: a string, or a Buffer from a client set to return them. Anything else is a client we cannot read. */
function textOf(raw: unknown): string {
  if (typeof raw === "string") return raw;
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8");
  // A wrong kind of client (a type mapping, a proxy), not an outage: a TypeError, so it is not retried.
  throw new TypeError(`redisStore: the client returned ${describeValue(raw)} for GET, not a string or a Buffer`);
}

interface ClusterProbe {
  nodes?: unknown; // ioredis Cluster#nodes(role)
  masters?: unknown; // node-redis cluster
  nodeClient?: unknown;
}

function isCluster(client: ClusterProbe): boolean {
  return (
    typeof client.nodes === "function" || (Array.isArray(client.masters) && typeof client.nodeClient === "function")
  );
}

/** The database the client's keys live in, and the client's own key prefix (ioredis `keyPrefix`). */
function addressing(client: RedisClientLike): { db: number; keyPrefix: string } {
  const options = (client as { options?: { db?: unknown; database?: unknown; keyPrefix?: unknown } }).options;
  const db = options?.db ?? options?.database; // ioredis `db`, node-redis `database`; a Cluster has only 0
  return {
    db: typeof db === "number" && Number.isInteger(db) && db >= 0 && !isCluster(client as ClusterProbe) ? db : 0,
    keyPrefix: typeof options?.keyPrefix === "string" ? options.keyPrefix : "",
  };
}

interface Subscription {
  stop(): void;
}

type KeyEvent = keyof typeof KEY_EVENTS;
type PubSubClient = {
  subscribe(...args: unknown[]): PromiseLike<unknown>;
  unsubscribe(...args: unknown[]): PromiseLike<unknown>;
  on(event: string, listener: Listener): unknown;
  off?(event: string, listener: Listener): unknown;
  removeListener?(event: string, listener: Listener): unknown;
};

const RETRY_MS = [250, 1000, 5000, 15_000];

/**
 * Listens to `__keyevent@<db>__:del|expired|evicted` (keyevent notifications: their message is the key)
 * on `subscriber`, or on each master of a Cluster (keyspace events are published only on the node that
 * holds the key). A failed SUBSCRIBE is retried with a growing delay; once subscribed, both drivers
 * subscribe again by themselves after a reconnection (ioredis `autoResubscribe`, node-redis's PubSub).
 */
function subscribeKeyEvents(
  subscriber: RedisClientLike,
  flavor: Flavor,
  db: number,
  onEvent: (event: KeyEvent, key: string) => void,
  warn: (message: string) => void,
): Subscription {
  const channels = (Object.keys(KEY_EVENTS) as KeyEvent[]).map((event) => `__keyevent@${db}__:${event}`);
  const eventOf = (channel: unknown): KeyEvent | undefined => {
    const name = String(channel);
    const index = channels.indexOf(name);
    return index === -1 ? undefined : (Object.keys(KEY_EVENTS) as KeyEvent[])[index];
  };
  const deliver = (channel: unknown, message: unknown): void => {
    const event = eventOf(channel);
    if (event !== undefined)
      onEvent(event, message instanceof Uint8Array ? Buffer.from(message).toString("utf8") : String(message));
  };
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const later = (attempt: number, task: () => void): void => {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        if (!stopped) task();
      },
      RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)],
    );
    timer.unref();
    timers.add(timer);
  };
  const failed = (cause: unknown): void =>
    warn(
      `socket.io-session-auth: redisStore({ subscriber }) could not subscribe to key events (${describeCause(cause)}); it keeps trying, and sockets of sessions deleted meanwhile are ended by the next re-read instead.`,
    );

  // One node (a single Redis, or one master of a Cluster): subscribe, retrying until it works.
  const listenOn = (node: PubSubClient): (() => void) => {
    let undo = (): void => {};
    let nodeStopped = false;
    if (flavor === "ioredis") {
      const onMessage: Listener = (channel, message) => deliver(channel, message);
      node.on("message", onMessage);
      const attempt = (n: number): void => {
        Promise.resolve(node.subscribe(...channels)).then(undefined, (cause: unknown) => {
          if (nodeStopped || stopped) return;
          failed(cause);
          later(n + 1, () => attempt(n + 1));
        });
      };
      attempt(0);
      undo = () => {
        removeListener(node, "message", onMessage);
        Promise.resolve(node.unsubscribe(...channels)).then(undefined, () => {});
      };
    } else {
      const listener = (message: unknown, channel: unknown): void => deliver(channel, message);
      const attempt = (n: number): void => {
        Promise.resolve(node.subscribe(channels, listener)).then(undefined, (cause: unknown) => {
          if (nodeStopped || stopped) return;
          failed(cause);
          later(n + 1, () => attempt(n + 1));
        });
      };
      attempt(0);
      undo = () => {
        Promise.resolve(node.unsubscribe(channels, listener)).then(undefined, () => {});
      };
    }
    return () => {
      nodeStopped = true;
      undo();
    };
  };

  const cluster = subscriber as ClusterProbe & { on?: unknown };
  if (typeof cluster.nodes === "function") {
    // ioredis Cluster: its own connection to each master (not the client's), re-scanned whenever the
    // topology changes, so a new or promoted master is listened to and a removed one let go.
    const listening = new Map<unknown, () => void>();
    const scan = (): void => {
      if (stopped) return;
      const masters = (cluster.nodes as (role: string) => PubSubClient[]).call(subscriber, "master");
      for (const node of masters) if (!listening.has(node)) listening.set(node, listenOn(node));
      for (const [node, stop] of listening) {
        if (!masters.includes(node as PubSubClient)) {
          stop();
          listening.delete(node);
        }
      }
    };
    const events = ["ready", "refresh", "+node", "-node"];
    const onChange: Listener = () => queueMicrotask(scan);
    for (const event of events) (subscriber as unknown as PubSubClient).on(event, onChange);
    scan();
    return {
      stop() {
        stopped = true;
        for (const event of events) removeListener(subscriber as unknown as PubSubClient, event, onChange);
        for (const stop of listening.values()) stop();
        listening.clear();
        for (const timer of timers) clearTimeout(timer);
      },
    };
  }
  if (Array.isArray(cluster.masters) && typeof cluster.nodeClient === "function") {
    // node-redis cluster: the cluster's own client of each master, which resubscribes after a reconnection.
    // Masters are read once, when the subscription starts (node-redis emits no topology event to re-scan on).
    const stops: Array<() => void> = [];
    for (const master of cluster.masters as unknown[]) {
      const attach = (n: number): void => {
        Promise.resolve(
          (cluster.nodeClient as (node: unknown) => PromiseLike<PubSubClient> | PubSubClient).call(subscriber, master),
        ).then(
          (node) => {
            if (stopped) return;
            stops.push(listenOn(node));
          },
          (cause: unknown) => {
            if (stopped) return;
            failed(cause);
            later(n + 1, () => attach(n + 1));
          },
        );
      };
      attach(0);
    }
    return {
      stop() {
        stopped = true;
        for (const stop of stops.splice(0)) stop();
        for (const timer of timers) clearTimeout(timer);
      },
    };
  }
  const stop = listenOn(subscriber as unknown as PubSubClient);
  return {
    stop() {
      stopped = true;
      stop();
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

function removeListener(emitter: PubSubClient, event: string, listener: Listener): void {
  if (typeof emitter.off === "function") emitter.off(event, listener);
  else if (typeof emitter.removeListener === "function") emitter.removeListener(event, listener);
}

/**
 * Reads `notify-keyspace-events` (CONFIG GET) on the client's server, or on each master of a Cluster,
 * and says what is missing for the subscription; undefined when the flags are set. Never rejects: a
 * server that refuses CONFIG (managed Redis often does) is itself the problem to report.
 */
async function checkKeyspaceEvents(client: RedisClientLike, flavor: Flavor): Promise<string | undefined> {
  try {
    const nodes = await serversOf(client);
    for (const node of nodes) {
      const reply =
        flavor === "ioredis"
          ? await (node as { config(...args: string[]): PromiseLike<unknown> }).config("GET", "notify-keyspace-events")
          : await (node as { configGet(name: string): PromiseLike<unknown> }).configGet("notify-keyspace-events");
      const flags = Array.isArray(reply)
        ? reply[1]
        : (reply as Record<string, unknown> | null)?.["notify-keyspace-events"];
      if (typeof flags !== "string")
        return 'could not read the server\'s notify-keyspace-events (CONFIG GET answered something else); make sure it includes "Egxe", or deleted and expired sessions will not end their sockets at once.';
      const missing = missingFlags(flags);
      if (missing !== "") {
        const setting =
          nodes.length > 1
            ? `the notify-keyspace-events of the master ${addressOf(node)}`
            : "the server's notify-keyspace-events";
        return `needs key-event notifications, but ${setting} is "${flags}" (missing "${missing}"): set it to include "Egxe" (CONFIG SET notify-keyspace-events Egxe, or notify-keyspace-events in redis.conf${nodes.length > 1 ? ", on every master" : ""}); until then deleted and expired sessions end their sockets only at the next re-read.`;
      }
    }
    return undefined;
  } catch (cause) {
    return `could not check the server's notify-keyspace-events (CONFIG GET failed: ${describeCause(cause)}; managed Redis services often refuse CONFIG). Make sure it includes "Egxe" in the service's settings, or deleted and expired sessions end their sockets only at the next re-read.`;
  }
}

async function serversOf(client: RedisClientLike): Promise<unknown[]> {
  const cluster = client as ClusterProbe;
  if (typeof cluster.nodes === "function") return (cluster.nodes as (role: string) => unknown[]).call(client, "master");
  if (Array.isArray(cluster.masters) && typeof cluster.nodeClient === "function") {
    return Promise.all(
      (cluster.masters as unknown[]).map((master) =>
        (cluster.nodeClient as (node: unknown) => unknown).call(client, master),
      ),
    );
  }
  return [client];
}

/** A cluster node's address for a warning (host names and ports are no secret; credentials are left out). */
function addressOf(node: unknown): string {
  const options = (
    node as { options?: { host?: unknown; port?: unknown; socket?: { host?: unknown; port?: unknown } } }
  ).options;
  const host = options?.host ?? options?.socket?.host;
  const port = options?.port ?? options?.socket?.port;
  return typeof host === "string" && (typeof port === "number" || typeof port === "string")
    ? `${host}:${port}`
    : "(address unknown)";
}

/** The flags of `Egxe` that `flags` lacks ("A" stands for "g$lshzxetd", which includes g, x and e). */
function missingFlags(flags: string): string {
  const all = flags.includes("A");
  return ["E", "g", "x", "e"].filter((flag) => !(flags.includes(flag) || (flag !== "E" && all))).join("");
}

/** The error's kind and code for a warning: a driver's message may carry a host name or a key. */
function describeCause(cause: unknown): string {
  if (typeof cause !== "object" || cause === null) return describeValue(cause);
  const { name, code } = cause as { name?: unknown; code?: unknown };
  const kind = typeof name === "string" ? name : "an error";
  return typeof code === "string" ? `${kind} ${code}` : kind;
}
