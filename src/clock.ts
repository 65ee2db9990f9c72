/**
 * Milliseconds on a clock that never steps back (unlike `Date.now()`, which NTP may move): for ordering
 * a store read against a session's end. Not a wall-clock time.
 */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}
