// How the core calls a store, for the tests that call adapters directly.

/** A signal that never aborts: what a store call gets when the test is not about aborting. */
export const signal = (): AbortSignal => new AbortController().signal;

/** `store.get`'s options as the core passes them; what the adapter reports (a cause) lands in `reports`. */
export const getOptions = (reports: unknown[] = []) => ({
  signal: signal(),
  report: (cause: unknown) => void reports.push(cause),
});
