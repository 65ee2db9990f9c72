/**
 * Waiting with a bound: every store, Redis and adapter call of the package goes through one of these, so
 * a driver that never answers costs a timeout, never a hang, and a late failure is never an unhandled
 * rejection.
 */

/** Whether `value` is a thenable (a driver's promise, or a callback-style client's `undefined`/`true`). */
export function isPromiseLike<T>(value: PromiseLike<T> | T): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/**
 * For adapter authors: settles like `pending`, or rejects with the signal's reason as soon as `signal`
 * aborts (at once if it already has), so a `get` stops waiting on a driver that has no cancellation of
 * its own. `pending` stays handled after that, so its late failure is no unhandled rejection.
 */
export function abortable<T>(pending: PromiseLike<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    pending.then(undefined, () => {});
    return Promise.reject(reasonOf(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reasonOf(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function reasonOf(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("the lookup was aborted");
}

/** What {@link withDeadline} hands the call: a signal made only when the call reads it (in-process stores never do). */
export interface Deadline {
  readonly signal: AbortSignal;
}

export interface DeadlineOptions<T> {
  /** Milliseconds the call may take. */
  ms: number;
  /** The rejection once `ms` has passed; the signal is aborted with `Error("timeout after <ms> ms")`. */
  expired(): unknown;
  /** Sees the value of a call that resolved after the deadline (a write the caller already gave up on). */
  late?(value: T): void;
}

/**
 * Runs `call` under a deadline: settles as it does, or rejects with `expired()` after `ms` (aborting the
 * signal the call was given). A call that throws instead of rejecting rejects all the same; a failure
 * after the deadline is swallowed.
 */
export function withDeadline<T>(
  call: (deadline: Deadline) => PromiseLike<T> | T,
  options: DeadlineOptions<T>,
): Promise<T> {
  const { ms, expired, late } = options;
  let controller: AbortController | undefined;
  const deadline: Deadline = {
    get signal() {
      return (controller ??= new AbortController()).signal;
    },
  };
  return new Promise<T>((resolve, reject) => {
    let over = false;
    const timer = setTimeout(() => {
      over = true;
      controller?.abort(new Error(`timeout after ${ms} ms`));
      reject(expired());
    }, ms);
    let pending: PromiseLike<T> | T;
    try {
      pending = call(deadline);
    } catch (error) {
      clearTimeout(timer);
      reject(error);
      return;
    }
    Promise.resolve(pending).then(
      (value) => {
        clearTimeout(timer);
        if (!over) resolve(value);
        else late?.(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!over) reject(error);
      },
    );
  });
}
