import { withDeadline } from "../internal/deadline.js";
import { sha256Hex } from "../internal/hash.js";
import { redisFlavor, redisNotReady } from "../internal/redis.js";
import { PushError } from "./errors.js";

/**
 * Answers remembered by idempotency key, in this process only: a retry that lands on another node (or
 * after a restart) is not recognised. Entries live `ttl` ms; past `maxKeys` the oldest go first, so the
 * memory stays bounded whatever callers send. No timer: expired entries are dropped as new ones arrive.
 */
export interface IdempotencyCache<T> {
  /** The remembered value, or undefined when the key is new or expired. */
  get(key: string): T | undefined;
  set(key: string, value: T): void;
  delete(key: string): void;
  clear(): void;
  readonly size: number;
}

export function createIdempotencyCache<T>(options: {
  ttl: number;
  maxKeys: number;
  now?: () => number;
}): IdempotencyCache<T> {
  // A monotonic clock: a wall-clock step back would make entries outlive their ttl.
  const { ttl, maxKeys, now = () => performance.now() } = options;
  // Insertion order is expiry order (every entry lives the same ttl), so the head is always the oldest.
  const entries = new Map<string, { value: T; expires: number }>();

  const sweep = (at: number): void => {
    for (const [key, entry] of entries) {
      if (entry.expires > at) break;
      entries.delete(key);
    }
  };

  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expires <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value) {
      if (maxKeys === 0) return;
      const at = now();
      sweep(at);
      entries.delete(key); // re-inserted at the tail: its expiry is now the latest
      while (entries.size >= maxKeys) entries.delete(entries.keys().next().value!);
      entries.set(key, { value, expires: at + ttl });
    },
    delete(key) {
      entries.delete(key);
    },
    clear() {
      entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}

/** An answer as HTTP gives it (the executor's `Outcome`, restated here to keep this module standalone). */
export interface Remembered {
  readonly status: number;
  readonly body: unknown;
}

/**
 * What a store says about a key. `fresh`: this request owns the key and must run, then `settle` with its
 * answer (or `abandon` on a failure, which is never replayed). Otherwise `answer` is the first request's
 * answer (still pending, maybe).
 */
export type Claim<O extends Remembered> =
  | { readonly fresh: true; settle(outcome: O): void; abandon(error: unknown): void }
  | { readonly fresh: false; readonly answer: Promise<O> };

export interface ClaimPlan<O extends Remembered> {
  /** The answer, when it is known before running (fire-and-forget: `{ ok, id }`): stored with the claim, in one command. */
  readonly known?: O;
  /** Milliseconds the run may take (acks): how long a repeat waits for its answer before giving up. */
  readonly wait: number;
}

/** Where answers are remembered by key: this process (default), or Redis for every node. */
export interface AnswerStore {
  /**
   * Claims `key` for a request whose payload hashes to `fingerprint`. Throws (or rejects with) a
   * `PushError`: `IDEMPOTENCY_KEY_REUSED` when the key was first used with another fingerprint,
   * `IDEMPOTENCY_UNAVAILABLE` when the store did not answer, `IDEMPOTENCY_KEY_IN_USE` when the first
   * request never answered.
   */
  claim<O extends Remembered>(key: string, fingerprint: string, plan: ClaimPlan<O>): Claim<O> | Promise<Claim<O>>;
  /** Forgets what this process holds (the shared store's keys expire by themselves). */
  clear(): void;
}

export function reusedKey(): PushError {
  return new PushError(
    "IDEMPOTENCY_KEY_REUSED",
    "This Idempotency-Key (or message id) was first used with another payload; nothing was sent. Use a new key for a new message.",
  );
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function defer<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  // Nobody may be waiting on it: a failure must not become an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The per-process store: answers (pending ones included) in a bounded {@link IdempotencyCache}. Claims are synchronous. */
/** The in-process store answers at once: a claim is never a promise. */
export interface MemoryAnswers extends AnswerStore {
  claim<O extends Remembered>(key: string, fingerprint: string, plan: ClaimPlan<O>): Claim<O>;
}

export function memoryAnswers(options: { ttl: number; maxKeys: number }): MemoryAnswers {
  const cache = createIdempotencyCache<{ fingerprint: string; answer: Promise<Remembered> }>(options);
  return {
    claim<O extends Remembered>(key: string, fingerprint: string): Claim<O> {
      const seen = cache.get(key);
      if (seen !== undefined) {
        if (seen.fingerprint !== fingerprint) throw reusedKey();
        return { fresh: false, answer: seen.answer as Promise<O> };
      }
      const deferred = defer<O>();
      cache.set(key, { fingerprint, answer: deferred.promise });
      return {
        fresh: true,
        settle: (outcome) => deferred.resolve(outcome),
        abandon: (error) => {
          // A failure is not an answer worth replaying: let the retry run for real.
          if (cache.get(key)?.answer === deferred.promise) cache.delete(key);
          deferred.reject(error);
        },
      };
    },
    clear: () => cache.clear(),
  };
}

/** What the Redis store needs of a client; `set` and `del` are found at run time, as `redisStore` does. */
export interface PushRedisClient {
  get(key: string): PromiseLike<unknown>;
}

export interface RedisAnswersOptions {
  client: PushRedisClient;
  prefix: string;
  /** Milliseconds a key is remembered. */
  ttl: number;
  /** Milliseconds one Redis command may take before the request is answered 503. */
  timeout: number;
  /** Sees failures that no request answer carries (writing a final answer, releasing a late claim). */
  onError: (error: PushError) => void;
}

/** A stored record: `s`/`b` once answered, `p` (epoch ms when the answer is due) while pending. */
interface StoredRecord {
  v: 1;
  f: string;
  s?: number;
  b?: unknown;
  p?: number;
}

/** A repeat waits this much past the first request's own deadline before giving up on its answer. */
const PENDING_GRACE_MS = 2000;
const POLL_FIRST_MS = 25;
const POLL_MAX_MS = 250;

/**
 * The shared store: one key per idempotency key, `SET <key> <record> NX PX <ttl>` to claim it, so on
 * every node exactly one request with that key runs. A fire-and-forget message knows its answer before
 * it runs, so its record is final from that single command; a message with acks claims a pending record
 * and writes its answer when it has it (`SET ... XX PX <ttl>`). A repeat reads the record: another
 * fingerprint is a 422, an answer is replayed, a pending record is polled until its answer comes.
 *
 * Never a false "ok" nor a double send: when the client is not connected, or Redis does not answer
 * within `timeout`, the request is answered 503 `IDEMPOTENCY_UNAVAILABLE` and nothing is sent. A claim
 * that Redis applies after that (the client re-sends a command that was on the wire when the connection
 * dropped) is deleted again as soon as its reply comes; a retry that reads it in that one round trip
 * would be answered as sent, the one window left, and only after a timeout. A record stays until its ttl even when the node that claimed it
 * dies, so a repeat may then get 409 `IDEMPOTENCY_KEY_IN_USE` (outcome unknown) rather than a second send.
 */
export function redisAnswers(options: RedisAnswersOptions): AnswerStore {
  const { client, prefix, ttl, timeout, onError } = options;
  const probe = client as unknown as { set?: unknown; del?: unknown };
  const ioredis = redisFlavor(client) === "ioredis";
  const set = probe.set as (...args: unknown[]) => PromiseLike<unknown>;
  const del = probe.del as (key: string) => PromiseLike<unknown>;
  // Same-node repeats share the first request's answer without a round trip.
  const inflight = new Map<string, { fingerprint: string; answer: Promise<Remembered> }>();

  const unavailable = (cause?: unknown): PushError =>
    new PushError(
      "IDEMPOTENCY_UNAVAILABLE",
      "The idempotency store (Redis) did not answer in time; nothing was sent. Retry with the same key.",
      { cause },
    );

  /**
   * One command with a deadline; `late` sees the reply of a command we stopped waiting for. A client that
   * is not connected gets no command at all: in its offline queue a claim would wait for Redis to come
   * back and be applied long after the request was answered 503.
   */
  function command<T>(run: () => PromiseLike<T>, late?: (reply: T) => void): Promise<T> {
    if (redisNotReady(client) !== undefined)
      return Promise.reject(unavailable(new Error("the Redis client is not connected")));
    let expired: PushError | undefined;
    return withDeadline(run, { ms: timeout, expired: () => (expired = unavailable()), late }).then(
      undefined,
      (cause: unknown) => {
        throw cause === expired ? cause : unavailable(cause);
      },
    );
  }

  const write = (key: string, record: StoredRecord, condition: "NX" | "XX"): PromiseLike<unknown> =>
    ioredis
      ? set.call(client, key, JSON.stringify(record), "PX", ttl, condition)
      : set.call(client, key, JSON.stringify(record), { PX: ttl, [condition]: true });

  const release = (key: string): void => {
    Promise.resolve()
      .then(() => del.call(client, key))
      .then(undefined, (cause: unknown) => onError(unavailable(cause)));
  };

  async function read(key: string): Promise<StoredRecord | null> {
    const text = await command(() => client.get(key));
    if (text === null || text === undefined) return null;
    try {
      const record = JSON.parse(typeof text === "string" ? text : String(text)) as StoredRecord;
      if (record.v === 1 && typeof record.f === "string") return record;
    } catch {
      // fall through
    }
    throw new PushError(
      "IDEMPOTENCY_UNAVAILABLE",
      "The idempotency store holds something else under this key (is `idempotency.prefix` shared with another program?).",
    );
  }

  /** Claims in Redis: `true` when this request owns the key, else the first request's answer. */
  async function acquire<O extends Remembered>(
    key: string,
    fingerprint: string,
    plan: ClaimPlan<O>,
  ): Promise<true | O> {
    const record: StoredRecord =
      plan.known === undefined
        ? { v: 1, f: fingerprint, p: Date.now() + plan.wait }
        : { v: 1, f: fingerprint, s: plan.known.status, b: plan.known.body };
    // A key can expire between a failed SET and the GET that follows: claim again, a few times at most.
    for (let attempt = 0; attempt < 3; attempt++) {
      const claimed = await command(
        () => write(key, record, "NX"),
        // We answered 503 and sent nothing: a claim that landed after all must not block the retry.
        (reply) => reply === "OK" && release(key),
      );
      if (claimed === "OK") return true;
      let delay = POLL_FIRST_MS;
      for (;;) {
        const first = await read(key);
        if (first === null) break; // gone: claim it anew
        if (first.f !== fingerprint) throw reusedKey();
        if (typeof first.s === "number") return { status: first.s, body: first.b } as O;
        if (Date.now() > (first.p ?? 0) + PENDING_GRACE_MS) {
          throw new PushError(
            "IDEMPOTENCY_KEY_IN_USE",
            "The first request with this key has not answered (its node may have stopped): its outcome is unknown, so nothing was sent again.",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(POLL_MAX_MS, delay * 2);
      }
    }
    throw unavailable();
  }

  return {
    claim<O extends Remembered>(key: string, fingerprint: string, plan: ClaimPlan<O>): Promise<Claim<O>> {
      const redisKey = prefix + sha256Hex(key);
      const local = inflight.get(redisKey);
      if (local !== undefined) {
        if (local.fingerprint !== fingerprint) return Promise.reject(reusedKey());
        return Promise.resolve({ fresh: false, answer: local.answer as Promise<O> });
      }
      const deferred = defer<O>();
      inflight.set(redisKey, { fingerprint, answer: deferred.promise });
      const done = (): void => {
        if (inflight.get(redisKey)?.answer === deferred.promise) inflight.delete(redisKey);
      };
      return acquire(redisKey, fingerprint, plan).then(
        (result): Claim<O> => {
          if (result !== true) {
            deferred.resolve(result);
            done();
            return { fresh: false, answer: deferred.promise };
          }
          return {
            fresh: true,
            settle: (outcome) => {
              deferred.resolve(outcome);
              done();
              if (plan.known !== undefined) return;
              Promise.resolve()
                .then(() => write(redisKey, { v: 1, f: fingerprint, s: outcome.status, b: outcome.body }, "XX"))
                .then(undefined, (cause: unknown) =>
                  onError(
                    new PushError(
                      "IDEMPOTENCY_UNAVAILABLE",
                      "Could not store an answer in the idempotency store; a repeat of this key will get 409 IDEMPOTENCY_KEY_IN_USE.",
                      { cause },
                    ),
                  ),
                );
            },
            abandon: (error) => {
              deferred.reject(error);
              done();
              release(redisKey);
            },
          };
        },
        (error: unknown) => {
          deferred.reject(error);
          done();
          throw error;
        },
      );
    },
    clear: () => inflight.clear(),
  };
}

/**
 * The payload a key is bound to: SHA-256 over a canonical JSON of what decides the delivery. Targets are
 * sorted (the same people in another order are the same message); binary data is hashed by its bytes.
 */
export function fingerprint(parts: readonly unknown[]): string {
  return sha256Hex(JSON.stringify(parts, binaryAware));
}

function binaryAware(_key: string, value: unknown): unknown {
  // Buffer has a toJSON of its own; other views and ArrayBuffers would all stringify as {}.
  if (value instanceof ArrayBuffer) return { binary: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value))
    return { binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  return value;
}
