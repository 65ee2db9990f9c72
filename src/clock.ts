/**
 * Milliseconds on a clock that never steps back (unlike `Date.now()`, which NTP may move): for ordering
 * a store read against a session's end. Not a wall-clock time.
 */
export function monotonicNow(): number {
  return TIME_ORIGIN + performance.now();
}

// Fixed for the process; read once (its getter validates its receiver on every call).
const TIME_ORIGIN = performance.timeOrigin;
