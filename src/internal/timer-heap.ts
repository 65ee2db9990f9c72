import { MAX_TIMEOUT_MS } from "../config.js";

/** What a {@link TimerHeap} schedules: its due time and its place in the heap (-1 when not scheduled). */
export interface Scheduled {
  /** When it is due (ms since the epoch, `Date.now()`'s clock). */
  timerAt: number;
  /** Its index in the heap; -1 when not scheduled. Owned by the heap. */
  heapIndex: number;
}

/**
 * Many deadlines under one timer (issue 22: one timer per node for the sessions it follows, not a
 * `setTimeout` per session): a binary min-heap by `timerAt`, and one unreferenced Node timer armed for
 * the soonest. Scheduling, moving and removing one cost O(log n) and no allocation.
 */
export interface TimerHeap<T extends Scheduled> {
  /** Schedules `item` at `at` (moves it if it is scheduled already). */
  set(item: T, at: number): void;
  /** Unschedules `item` (nothing if it is not scheduled). */
  delete(item: T): void;
  /** Unschedules everything and stops the timer. */
  clear(): void;
}

export function createTimerHeap<T extends Scheduled>(fire: (item: T) => void): TimerHeap<T> {
  const heap: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;

  function place(item: T, index: number): void {
    heap[index] = item;
    item.heapIndex = index;
  }

  function up(index: number): void {
    const item = heap[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.timerAt <= item.timerAt) break;
      place(heap[parent]!, index);
      index = parent;
    }
    place(item, index);
  }

  function down(index: number): void {
    const item = heap[index]!;
    const size = heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && heap[right]!.timerAt < heap[left]!.timerAt ? right : left;
      if (heap[child]!.timerAt >= item.timerAt) break;
      place(heap[child]!, index);
      index = child;
    }
    place(item, index);
  }

  function remove(item: T): void {
    const index = item.heapIndex;
    item.heapIndex = -1;
    const last = heap.pop()!;
    if (last === item) return;
    place(last, index);
    up(index);
    down(last.heapIndex);
  }

  // The one timer is armed for the soonest item. Moved only when an item becomes due sooner than it: an
  // item removed or moved later leaves it where it is (a socket leaving costs no timer work), and a wake
  // with nothing due re-arms for the soonest then, or stops when the heap is empty.
  function arm(): void {
    const at = heap.length === 0 ? Number.POSITIVE_INFINITY : heap[0]!.timerAt;
    if (timer !== undefined && at >= timerAt) return;
    clearTimeout(timer);
    timer = undefined;
    timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    timer = setTimeout(wake, Math.max(0, Math.min(at - Date.now(), MAX_TIMEOUT_MS)));
    timer.unref();
  }

  function wake(): void {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const due: T[] = [];
    while (heap.length > 0 && heap[0]!.timerAt <= now) {
      const item = heap[0]!;
      remove(item);
      due.push(item);
    }
    // Armed before firing: what `fire` schedules lands in the heap and moves the timer if sooner.
    arm();
    for (const item of due) {
      try {
        fire(item);
      } catch {
        // One item's failure must not stop the others.
      }
    }
  }

  return {
    set(item, at) {
      if (item.heapIndex >= 0) {
        if (item.timerAt === at) return;
        item.timerAt = at;
        up(item.heapIndex);
        down(item.heapIndex);
      } else {
        item.timerAt = at;
        heap.push(item);
        up(heap.length - 1);
      }
      arm();
    },
    delete(item) {
      if (item.heapIndex < 0) return;
      remove(item);
      arm();
    },
    clear() {
      for (const item of heap) item.heapIndex = -1;
      heap.length = 0;
      clearTimeout(timer);
      timer = undefined;
      timerAt = Number.POSITIVE_INFINITY;
    },
  };
}
