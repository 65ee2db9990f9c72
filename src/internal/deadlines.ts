/**
 * Deadlines of one length (`ms`) under one timer (issue 22: no `setTimeout` per store lookup on the
 * handshake path). Every deadline is `ms` after it was set, so the oldest is always the next due: the
 * pending ones are kept in insertion order, and the one timer is armed for the oldest only. Clearing
 * one costs a `Set` delete and nothing else: the timer stays armed (unreferenced while nothing is
 * pending, so it keeps no idle process alive) and, when it fires for deadlines already cleared, re-arms
 * for the oldest still pending, or stops when none is. Under steady traffic that is one timer callback
 * per `ms`, not a `setTimeout` and a `clearTimeout` per lookup (a store that answers before its deadline,
 * the usual case).
 */
export interface Deadlines {
  /**
   * Calls `each.expire()` once `ms` have passed, unless {@link clear}ed first. `each` is the caller's own
   * object (a lookup in flight): no record of ours per deadline; its `at` is set here.
   */
  set(each: Deadline): void;
  /** Forgets a deadline (once it is settled another way); nothing if it already expired. */
  clear(each: Deadline): void;
}

/** What a deadline calls, and when it is due (`performance.now()` time, set by {@link Deadlines.set}). */
export interface Deadline {
  at: number;
  expire(): void;
}

export function createDeadlines(ms: number): Deadlines {
  const pending = new Set<Deadline>();
  let timer: NodeJS.Timeout | undefined;

  function arm(delay: number): void {
    timer = setTimeout(fire, Math.max(1, Math.ceil(delay)));
  }

  function fire(): void {
    timer = undefined;
    const now = performance.now();
    for (const each of pending) {
      if (each.at > now) return arm(each.at - now);
      pending.delete(each);
      try {
        each.expire();
      } catch {
        // One expiry's failure must not stop the others (each settles its own caller).
      }
    }
  }

  return {
    set(each) {
      each.at = performance.now() + ms;
      pending.add(each);
      // Referenced while something is pending (a lookup keeps the process alive until it settles or
      // expires, as a setTimeout of its own would), unreferenced once nothing is.
      if (timer === undefined) arm(ms);
      else if (pending.size === 1) timer.ref();
    },
    clear(each) {
      if (pending.delete(each) && pending.size === 0) timer?.unref();
    },
  };
}
