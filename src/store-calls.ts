import type { Config } from "./config.js";
import { isSessionAuthError, SessionAuthError } from "./errors.js";
import { isPromiseLike, withDeadline } from "./internal/deadline.js";
import { createDeadlines, type Deadline, type Deadlines } from "./internal/deadlines.js";
import { describeFailure } from "./internal/describe.js";
import { storeTraced, traceStore } from "./observe.js";
import type { Settle } from "./pipeline-types.js";
import type { SessionRecord, StoreGetOptions } from "./store.js";

// The pipeline's calls to the store: a lookup (in callbacks, under one deadline timer) and a write
// (`compareAndSet`), each under `timeout`, their failures mapped to STORE_UNAVAILABLE or SESSION_NOT_FOUND.

export interface StoreCalls<S extends object> {
  /**
   * One lookup of `id`; `verified` says how the id was proven (a secret's index, or a text), for the
   * diagnosis; `revision` asks the store for one (only `update()`'s read does).
   */
  lookupThen(
    id: string,
    verified: number | string,
    revision: boolean,
    cookieName: string | undefined,
    settle: Settle<SessionRecord<S>>,
  ): void;
  /** `store.compareAndSet` under the same timeout as lookups; true when written. */
  write(sessionId: string, revision: unknown, session: S): Promise<boolean>;
}

export function createStoreCalls<S extends object>(config: Config<S>): StoreCalls<S> {
  const { store, timeout } = config;
  // One timer for every pending lookup (issue 22: no setTimeout per handshake).
  const deadlines = createDeadlines(timeout);

  /**
   * One store lookup under `timeout` (one timer for all: `deadlines`), with an AbortSignal made only when
   * the store reads it (in-process stores never do). `verified` says how the id was proven, for the
   * diagnosis: a secret's index, or a text. Failures become STORE_UNAVAILABLE (a TypeError and its kin:
   * a misconfiguration, not retryable); no record, SESSION_NOT_FOUND.
   */
  function lookupThen(
    id: string,
    verified: number | string,
    revision: boolean,
    cookieName: string | undefined,
    settle: Settle<SessionRecord<S>>,
  ): void {
    // One object per lookup: the store's options, the deadline and the answer's state (issue 22: no
    // closures per lookup beyond the two a store may hold on to).
    const lookup = new Lookup<S>(
      config,
      deadlines,
      verified,
      revision,
      cookieName !== undefined && store.cookie !== undefined ? cookieName : undefined,
      settle,
    );
    deadlines.set(lookup);
    // This package's adapters answer a handshake's read through a callback too (no promise of theirs
    // nor of ours on the hot path, issue 22); only while nobody traces store calls, which needs a promise.
    const getThen = revision ? undefined : (store as { [GET_THEN]?: GetThen<S> })[GET_THEN];
    if (getThen !== undefined && getThen.get === store.get && !storeTraced()) {
      try {
        getThen.read(id, lookup, lookup.answer);
      } catch (error) {
        lookup.answer(error ?? new Error("store.get threw"));
      }
      return;
    }
    let answer: PromiseLike<SessionRecord<S> | null> | SessionRecord<S> | null;
    try {
      answer = traceStore("get", store.name, () => store.get(id, lookup));
    } catch (error) {
      return lookup.answer(error ?? new Error("store.get threw"));
    }
    if (isPromiseLike(answer))
      answer.then(
        (record) => lookup.answer(undefined, record),
        (error: unknown) => lookup.answer(error ?? new Error("store.get rejected")),
      );
    else lookup.answer(undefined, answer);
  }

  // One store call under `timeout`, with an AbortSignal made only when the store reads it (in-process
  // stores never do, and cost nothing). Failures become STORE_UNAVAILABLE; a TypeError and its kin are
  // a misconfiguration (a callback-style client, a wrong object), which no retry fixes.
  async function withTimeout<T>(
    what: string,
    verified: string,
    call: (options: { readonly signal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    try {
      return await withDeadline(
        (deadline) =>
          call({
            get signal() {
              return deadline.signal;
            },
          }),
        {
          ms: timeout,
          expired: () =>
            new SessionAuthError("STORE_UNAVAILABLE", `${what} did not answer within ${timeout} ms (${verified}).`),
        },
      );
    } catch (cause) {
      throw storeFailure(what, verified, cause);
    }
  }

  return {
    lookupThen,
    write: (sessionId, revision, session) => {
      const compareAndSet = store.compareAndSet!;
      return withTimeout(`Store "${store.name}" (compareAndSet)`, "write of a connected session", ({ signal }) =>
        traceStore("compareAndSet", store.name, () =>
          compareAndSet.call(store, sessionId, revision, session, { signal }),
        ),
      ).then((written) => written === true);
    },
  };
}

const OWN_DEADLINE = Symbol.for("socket.io-session-auth.ownDeadline");

/**
 * Between the core and this package's adapters only (never documented for others): `read` is `get` for
 * a read without a revision, answering through `done` once, `(error)` or `(undefined, record or null)`;
 * used only while the store's `get` is still the `get` it stands for (a wrapper may have replaced it).
 */
const GET_THEN = Symbol.for("socket.io-session-auth.getThen");
interface GetThen<S extends object> {
  readonly get: unknown;
  read(id: string, options: StoreGetOptions, done: (error: unknown, record?: SessionRecord<S> | null) => void): void;
}

function verifiedText(verified: number | string): string {
  if (typeof verified === "string") return verified;
  return verified < 0 ? "unsigned cookie" : `cookie verified by secret #${verified}`;
}

// A store's failure as the refusal it is: a SessionAuthError (from this copy of the package or another)
// passes through; a TypeError and its kin are a misconfiguration, which no retry fixes.
function storeFailure(what: string, verified: string, cause: unknown): SessionAuthError {
  if (isSessionAuthError(cause)) return cause;
  const mistake = cause instanceof TypeError || cause instanceof RangeError || cause instanceof ReferenceError;
  return new SessionAuthError(
    "STORE_UNAVAILABLE",
    mistake
      ? `${what} failed with a ${describeFailure(cause)} (${verified}): a misconfiguration or a bug, not an outage (a callback-style client, a wrong object?); see \`cause\`.`
      : `${what} failed: ${describeFailure(cause)} (${verified}).`,
    { cause, retryable: !mistake },
  );
}

// The refusal a store's answer is (no record, or no session in it), or undefined for a good record.
function refusalOf<S extends object>(
  config: Config<S>,
  lookup: Lookup<S>,
  record: SessionRecord<S> | null | undefined,
): SessionAuthError | undefined {
  const { store } = config;
  if (record === null || record === undefined) {
    const what = verifiedText(lookup.verified);
    const reported = lookup.reported;
    return new SessionAuthError(
      "SESSION_NOT_FOUND",
      reported === undefined
        ? `No session for this ${what} (cookie "${lookup.cookieName ?? config.name}") in store "${store.name}"${store.where === undefined ? "" : ` (${store.where})`} (logged out, expired, or written to another store).`
        : `The session in store "${store.name}" could not be read (${what}); see \`cause\`.`,
      reported === undefined ? undefined : { cause: reported },
    );
  }
  if (typeof record !== "object" || typeof record.session !== "object" || record.session === null) {
    return new SessionAuthError(
      "SESSION_NOT_FOUND",
      `Store "${store.name}" returned no session object (a store bug: get() must resolve { session } or null).`,
    );
  }
  return undefined;
}

/**
 * One lookup in flight: the options the store gets, its deadline, and its answer, delivered once and then
 * forgotten (a store that answers late, or never, then holds no handshake: its request, socket and
 * callbacks). What a store sees is what `StoreGetOptions` says, as own enumerable properties (`signal`,
 * `report`, `revision`, `cookieName`), so a wrapper that spreads the options keeps them; the rest is
 * private.
 */
class Lookup<S extends object> implements StoreGetOptions, Deadline {
  /** The store's `report`: an own function, as stores take it apart from the options. */
  readonly report: (cause: unknown) => void;
  declare readonly signal: AbortSignal; // an own accessor, made in the constructor (see SIGNAL)
  /** Called by the store (or for it) with its answer, once; later calls are ignored. */
  readonly #answer: (error: unknown, record?: SessionRecord<S> | null) => void;
  #controller: AbortController | undefined = undefined;
  #over = false;
  #at = 0;
  #reported: unknown = undefined;
  readonly #config: Config<S>;
  readonly #deadlines: Deadlines;
  readonly #verified: number | string;
  #to: Settle<SessionRecord<S>> | undefined;

  constructor(
    config: Config<S>,
    deadlines: Deadlines,
    verified: number | string,
    readonly revision: boolean,
    readonly cookieName: string | undefined,
    to: Settle<SessionRecord<S>>,
  ) {
    this.#config = config;
    this.#deadlines = deadlines;
    this.#verified = verified;
    this.#to = to;
    this.report = (cause) => void (this.#reported ??= cause);
    Object.defineProperty(this, "signal", SIGNAL);
    this.#answer = (error, record) => {
      if (this.#over) return;
      this.#over = true;
      this.#deadlines.clear(this);
      // A failure is always delivered as one, whatever it is; a record only once it holds a session.
      if (error !== undefined) {
        const what = `Store "${this.#config.store.name}"`;
        return this.#deliver(storeFailure(what, verifiedText(this.#verified), error));
      }
      const refusal = refusalOf(this.#config, this, record);
      if (refusal !== undefined) this.#deliver(refusal);
      else this.#deliver(undefined, record!);
    };
  }

  /** The store's answer, `(error)` or `(undefined, record or null)`: the callback a store is handed. */
  get answer(): (error: unknown, record?: SessionRecord<S> | null) => void {
    return this.#answer;
  }

  get verified(): number | string {
    return this.#verified;
  }

  get reported(): unknown {
    return this.#reported;
  }

  /** The AbortSignal, made on first read; aborted at the deadline (already aborted when read after it). */
  signalNow(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      // Read once the lookup is over (answered or past its deadline): nothing to wait for any more.
      if (this.#over) this.#controller.abort(new Error("the lookup is over (answered, or past its timeout)"));
    }
    return this.#controller.signal;
  }

  get at(): number {
    return this.#at;
  }

  set at(value: number) {
    this.#at = value;
  }

  /** The deadline passed: refused now; the store's signal (if it took one) is aborted. */
  expire(): void {
    this.#over = true;
    const { timeout, store } = this.#config;
    this.#controller?.abort(new Error(`timeout after ${timeout} ms`));
    this.#deliver(
      new SessionAuthError(
        "STORE_UNAVAILABLE",
        `Store "${store.name}" did not answer within ${timeout} ms (${verifiedText(this.#verified)}).`,
      ),
    );
  }

  #deliver(error: SessionAuthError | undefined, record?: SessionRecord<S>): void {
    const target = this.#to;
    this.#to = undefined;
    target?.(error, record);
  }
}

// `signal` as an own enumerable accessor with one getter for every lookup (a literal's getter is a new
// function each time, which V8 builds slowly): a spread of the options copies the signal, as before.
const SIGNAL: PropertyDescriptor = {
  get(this: Lookup<object>) {
    return this.signalNow();
  },
  enumerable: true,
  configurable: true,
};

// Between the core and this package's adapters only: this caller stops waiting at its own deadline (so a
// store need not race `signal`, and can leave it unmade). Other callers of an adapter's `get` do not set
// it, and keep the signal's full contract. On the prototype: no property added per lookup (a spread of
// the options drops it, and the adapter then keeps the signal's full contract).
(Lookup.prototype as unknown as Record<symbol, boolean>)[OWN_DEADLINE] = true;
