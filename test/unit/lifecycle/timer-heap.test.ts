import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { createTimerHeap, type Scheduled } from "../../../src/internal/timer-heap.js";

// The lifecycle's one timer per node (issue 22): many sessions' deadlines in a heap under one Node
// timer. On fake timers: each item fires once, at its time, in order; moved and removed ones as told.

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

interface Item extends Scheduled {
  name: number;
}

const item = (name: number): Item => ({ name, timerAt: 0, heapIndex: -1 });

it("fires each item once at its time, soonest first, under one timer; moved and removed ones as told", () => {
  const fired: Array<{ name: number; at: number }> = [];
  const heap = createTimerHeap<Item>((each) => fired.push({ name: each.name, at: Date.now() }));
  const start = Date.now();
  const items = Array.from({ length: 200 }, (_, i) => item(i));
  // A fixed shuffle of due times (i * 37 mod 200 is a permutation), 10 ms apart.
  for (const each of items) heap.set(each, start + ((each.name * 37) % 200) * 10 + 10);
  expect(vi.getTimerCount()).toBe(1);
  heap.delete(items[5]!);
  heap.delete(items[5]!); // twice: nothing
  heap.set(items[7]!, start + 1); // moved to the front
  heap.set(items[8]!, start + 5_000); // moved to the back
  vi.advanceTimersByTime(2_000);
  expect(fired).toHaveLength(198);
  expect(fired[0]).toEqual({ name: 7, at: start + 1 });
  expect(fired.map((f) => f.name)).not.toContain(5);
  for (const { name, at } of fired.slice(1)) expect(at).toBe(start + ((name * 37) % 200) * 10 + 10);
  const times = fired.map((f) => f.at);
  expect(times).toEqual([...times].sort((a, b) => a - b));
  expect(items.every((each) => each.heapIndex === -1 || each === items[8])).toBe(true);
  vi.advanceTimersByTime(3_000);
  expect(fired.at(-1)).toEqual({ name: 8, at: start + 5_000 });
  expect(fired).toHaveLength(199);
  expect(vi.getTimerCount()).toBe(0);
});

it("what a firing item schedules again fires again; clear() stops everything", () => {
  let count = 0;
  const heap = createTimerHeap<Item>((each) => {
    count++;
    if (count < 3) heap.set(each, Date.now() + 100);
  });
  const one = item(1);
  const other = item(2);
  heap.set(one, Date.now() + 100);
  heap.set(other, Date.now() + 10_000);
  vi.advanceTimersByTime(1_000);
  expect(count).toBe(3);
  heap.clear();
  expect(vi.getTimerCount()).toBe(0);
  vi.advanceTimersByTime(20_000);
  expect(count).toBe(3);
  expect(other.heapIndex).toBe(-1);
});
