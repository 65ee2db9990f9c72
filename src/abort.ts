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
