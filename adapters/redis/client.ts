import {
  abortable,
  describeGiven,
  describeValue,
  driverKind,
  isPromiseLike,
  redisFlavor,
  redisNotReady,
  type RedisFlavor,
} from "socket.io-session-auth/adapter";

// The driver shim of the Redis store: what a client is (checked when the store is built), whether it can
// take a command now (ioredis or node-redis, decided in the core's shared helpers, so the push router's
// idempotency store decides it the same way), commands under the lookup's signal, and the addressing
// (database, key prefix, Cluster) that keyspace events need.

/**
 * What the adapter needs of a Redis client: `get(key)` returning a promise. ioredis `Redis` and `Cluster`,
 * and node-redis v4+ `createClient()` / `createCluster()` all fit. Typed structurally on purpose, so this
 * entry point's types never name a driver the user did not install.
 */
export interface RedisClientLike {
  get(key: string): PromiseLike<unknown>;
}

export type Listener = (...args: unknown[]) => void;

/** An event emitter as both drivers have it (`off` or only `removeListener`). */
export interface Emitter {
  on(event: string, listener: Listener): unknown;
  off?(event: string, listener: Listener): unknown;
  removeListener?(event: string, listener: Listener): unknown;
}

/** The members we detect at run time; none of them is required by {@link RedisClientLike}. */
interface ClientProbe {
  on?: unknown;
  off?: unknown;
  removeListener?: unknown;
}

/** One client as the store drives it. */
export interface RedisDriver {
  readonly flavor: RedisFlavor;
  /**
   * Runs one command: rejects at once (code `REDIS_NOT_READY`, the client's last connection error as
   * `cause`) when the client is not connected, rather than waiting in its offline queue; stops waiting
   * when `signal` aborts. A client that returns no promise is a TypeError (a callback-style client).
   */
  command<T>(run: () => PromiseLike<T> | T, signal?: AbortSignal | (() => AbortSignal)): Promise<T>;
  /** Lets go of the client's listeners (once every store sharing the client has). */
  release(): void;
}

export function driverOf(client: RedisClientLike): RedisDriver {
  const watch = watchClient(client as object);

  function unavailable(): Error | undefined {
    const state = redisNotReady(client);
    if (state === undefined) return undefined;
    return Object.assign(
      new Error(
        `the Redis client is not ready (${state})`,
        watch.lastError === undefined ? undefined : { cause: watch.lastError },
      ),
      { code: "REDIS_NOT_READY" },
    );
  }

  // `signal` as a function: the caller stops waiting at its own deadline (a lookup under sessionAuth's
  // timeout), so a ready client's command is not raced against it, and the signal is made only when the
  // command must wait for the client's first ready (issue 22: no AbortController per handshake).
  function command<T>(run: () => PromiseLike<T> | T, given?: AbortSignal | (() => AbortSignal)): Promise<T> {
    if (typeof given === "function") {
      const refusedNow = unavailable();
      if (refusedNow === undefined) return send(run, undefined);
      given = given();
    }
    const signal = given;
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error("the lookup was aborted"));
    const refused = unavailable();
    if (refused === undefined) return send(run, signal);
    // Still connecting for the first time (a deploy's first handshakes): wait for the first `ready`, up
    // to the lookup's deadline, since socket.io's client does not retry a refusal by itself. A client that
    // was ready and lost its connection fails fast instead (issue 18, item 6), as does one that will never
    // connect by itself (ioredis "end", node-redis never `connect()`ed).
    if (signal === undefined || watch.everReady || !connecting(client)) return Promise.reject(refused);
    return watch.firstReady(signal).then(() => {
      const still = unavailable();
      return still === undefined ? send(run, signal) : Promise.reject(still);
    });
  }

  function send<T>(run: () => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
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

  return { flavor: redisFlavor(client), command, release: () => watch.release() };
}

export function removeListener(emitter: Emitter, event: string, listener: Listener): void {
  if (typeof emitter.off === "function") emitter.off(event, listener);
  else if (typeof emitter.removeListener === "function") emitter.removeListener(event, listener);
}

const WHAT_TO_PASS =
  "pass a connected ioredis client (`new Redis()`, `new Cluster()`) or node-redis v4+ client (`await createClient().connect()`, `createCluster()`), whose commands return promises";

/** Refuses, when the store is built, a client that could only fail at every handshake. */
export function checkClient(option: "client" | "subscriber", value: unknown): void {
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

/** Whether the client is trying to connect by itself: not closed for good, and (node-redis) `connect()`ed. */
function connecting(client: RedisClientLike): boolean {
  const probe = client as { status?: unknown; isOpen?: unknown };
  switch (redisFlavor(client)) {
    case "ioredis":
      return probe.status !== "end" && probe.status !== "close";
    case "node-redis":
      return probe.isOpen === true;
    default:
      return false;
  }
}

interface ClientWatch {
  /** The client's latest connection error, for the cause of a fail-fast refusal. */
  lastError: unknown;
  /** Ready when the store was built, or a `ready` event since: a refusal after that is an outage. */
  everReady: boolean;
  /** Resolves at the client's first `ready`; rejects with the signal's reason when it aborts first. */
  firstReady(signal: AbortSignal): Promise<void>;
  users: number;
  release(): void;
}

// One pair of listeners per client, however many stores share it (one per prefix, say): Node warns past
// ten listeners of an event. Listening also means an outage never reaches the process as an unhandled
// 'error' event (which node-redis would throw).
const watches = new WeakMap<object, ClientWatch>();

function watchClient(client: object): ClientWatch {
  const probe = client as ClientProbe;
  const existing = watches.get(client);
  if (existing !== undefined) {
    existing.users++;
    return existing;
  }
  const on = typeof probe.on === "function" ? (probe.on as (event: string, listener: Listener) => unknown) : undefined;
  const off = (typeof probe.off === "function" ? probe.off : probe.removeListener) as
    ((event: string, listener: Listener) => unknown) | undefined;
  const onError: Listener = (error) => void (watch.lastError = error);
  // One 'ready' listener for every waiting lookup, however many there are (no listener per lookup).
  const waiting = new Set<() => void>();
  const onReady: Listener = () => {
    watch.lastError = undefined;
    watch.everReady = true;
    for (const wake of [...waiting]) wake();
  };
  const watch: ClientWatch = {
    lastError: undefined,
    // A client with no events cannot tell us when it is ready: it is never waited for.
    everReady: on === undefined || redisNotReady(client) === undefined,
    firstReady(signal) {
      return new Promise<void>((resolve, reject) => {
        const done = (): void => {
          waiting.delete(wake);
          signal.removeEventListener("abort", abort);
        };
        const wake = (): void => {
          done();
          resolve();
        };
        const abort = (): void => {
          done();
          reject(signal.reason ?? new Error("the lookup was aborted"));
        };
        waiting.add(wake);
        signal.addEventListener("abort", abort, { once: true });
      });
    },
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

/** GET's reply as text: a string, or a Buffer from a client set to return them. Anything else is a client we cannot read. */
export function textOf(raw: unknown): string {
  if (typeof raw === "string") return raw;
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8");
  // A wrong kind of client (a type mapping, a proxy), not an outage: a TypeError, so it is not retried.
  throw new TypeError(`redisStore: the client returned ${describeValue(raw)} for GET, not a string or a Buffer`);
}

export interface ClusterProbe {
  nodes?: unknown; // ioredis Cluster#nodes(role)
  masters?: unknown; // node-redis cluster
  nodeClient?: unknown;
}

export function isCluster(client: ClusterProbe): boolean {
  return (
    typeof client.nodes === "function" || (Array.isArray(client.masters) && typeof client.nodeClient === "function")
  );
}

/** The database the client's keys live in, and the client's own key prefix (ioredis `keyPrefix`). */
export function addressing(client: RedisClientLike): { db: number; keyPrefix: string } {
  const options = (client as { options?: { db?: unknown; database?: unknown; keyPrefix?: unknown } }).options;
  const db = options?.db ?? options?.database; // ioredis `db`, node-redis `database`; a Cluster has only 0
  return {
    db: typeof db === "number" && Number.isInteger(db) && db >= 0 && !isCluster(client as ClusterProbe) ? db : 0,
    keyPrefix: typeof options?.keyPrefix === "string" ? options.keyPrefix : "",
  };
}
