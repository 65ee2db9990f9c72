import { describe, expect, it } from "vitest";
import { SessionAuthError } from "socket.io-session-auth";
import { createEndedMemory, createSentEnds } from "../../../src/lifecycle/ended.js";

// The memory of recent ends alone, on a clock the test moves: which reads it calls stale, and how it
// forgets (by age and by count).

function clock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const reason = (code: "SESSION_NOT_FOUND" | "UNAUTHENTICATED" | "SESSION_EXPIRED" = "SESSION_NOT_FOUND") =>
  new SessionAuthError(code, "ended");

it("calls a read begun before an end stale, and one begun after it fresh", () => {
  const time = clock();
  const memory = createEndedMemory({ now: time.now });
  const before = time.now();
  time.advance(5);
  const ended = reason();
  memory.remember("key", "k1", ended);
  expect(memory.endedSince("k1", null, before)).toBe(ended);
  expect(memory.endedSince("k1", null, time.now())).toBe(ended); // at the same instant: stale too
  time.advance(1);
  expect(memory.endedSince("k1", null, time.now())).toBeUndefined();
  expect(memory.endedSince("k2", null, before)).toBeUndefined();
});

it("an end learned late (its `at` before later ends) is found for reads begun before its `at` only", () => {
  const time = clock();
  const memory = createEndedMemory({ now: time.now });
  const early = time.now();
  time.advance(10);
  const byUser = reason("UNAUTHENTICATED");
  memory.remember("user", "u1", byUser);
  const late = reason("SESSION_EXPIRED");
  memory.remember("store", "k1", late, early + 5); // told now, happened 5 ms after `early`
  expect(memory.endedSince("k1", null, early)).toBe(late);
  expect(memory.endedSince("k1", null, early + 6)).toBeUndefined();
  // The late end did not hide the user's, remembered before it with a later `at`.
  expect(memory.endedSince("k9", "u1", early + 6)).toBe(byUser);
  // After the latest end remembered, nothing is stale.
  time.advance(1);
  expect(memory.endedSince("k1", "u1", time.now())).toBeUndefined();
});

it("finds an end by session key, by the store's report, or by the user", () => {
  const time = clock();
  const memory = createEndedMemory({ now: time.now });
  const since = time.now();
  const byStore = reason("SESSION_EXPIRED");
  const byUser = reason("UNAUTHENTICATED");
  memory.remember("store", "k1", byStore);
  memory.remember("user", "u1", byUser);
  expect(memory.endedSince("k1", "u2", since)).toBe(byStore);
  expect(memory.endedSince("k9", "u1", since)).toBe(byUser);
  expect(memory.endedSince("k9", null, since)).toBeUndefined();
  // The user memory is not the key memory: a user named like a key ends nothing by key.
  expect(memory.endedSince("u1", null, since)).toBeUndefined();
});

it("forgets an end once it is older than ttl", () => {
  const time = clock();
  const memory = createEndedMemory({ now: time.now, ttl: 100 });
  const since = time.now();
  memory.remember("key", "old", reason());
  time.advance(100);
  memory.remember("key", "new", reason()); // remembering sweeps what has aged out
  expect(memory.endedSince("old", null, since)).toBeUndefined();
  expect(memory.endedSince("new", null, since)).toBeDefined();
});

it("keeps at most max ends of each kind, dropping the oldest, and a repeat counts as new", () => {
  const time = clock();
  const memory = createEndedMemory({ now: time.now, max: 3 });
  const since = time.now();
  for (const name of ["a", "b", "c"]) {
    memory.remember("key", name, reason());
    time.advance(1);
  }
  memory.remember("key", "a", reason()); // "a" moves to the newest
  memory.remember("key", "d", reason()); // "b" is now the oldest, and goes
  expect(["a", "b", "c", "d"].map((k) => memory.endedSince(k, null, since) !== undefined)).toEqual([
    true,
    false,
    true,
    true,
  ]);
  // A full key memory leaves the user memory alone.
  memory.remember("user", "u", reason());
  expect(memory.endedSince("none", "u", since)).toBeDefined();
});

it("remembers an end learned late at its own time: reads begun before it are stale, later ones are not", () => {
  const time = clock();
  const memory = createEndedMemory({ now: time.now });
  const readBefore = time.now();
  time.advance(100);
  const readBetween = time.now();
  time.advance(100);
  const late = reason("UNAUTHENTICATED");
  // Caught up 150 ms after the end was sent: it ended at now - 150, between the two reads.
  memory.remember("user", "u-7", late, time.now() - 150);
  expect(memory.endedSince("k", "u-7", readBefore)).toBe(late);
  expect(memory.endedSince("k", "u-7", readBetween)).toBeUndefined();
});

describe("the ends this node sent (numbered for peers that missed them)", () => {
  const key = "0123456789abcdef0123456789abcdef";

  it("numbers them 1, 2, 3 and gives those above a number, oldest first, with their ages", () => {
    const time = clock();
    const sent = createSentEnds({ now: time.now });
    expect([sent.seq, sent.oldest, sent.recent()]).toEqual([0, 1, false]);
    expect(sent.record({ key }, "SESSION_NOT_FOUND")).toBe(1);
    time.advance(10);
    expect(sent.record({ user: "u-7" }, "UNAUTHENTICATED")).toBe(2);
    time.advance(5);
    expect(sent.record({ user: "u-8" }, "FORBIDDEN")).toBe(3);
    time.advance(1);
    expect(sent.after(1)).toEqual([
      { seq: 2, target: { user: "u-7" }, code: "UNAUTHENTICATED", age: 6 },
      { seq: 3, target: { user: "u-8" }, code: "FORBIDDEN", age: 1 },
    ]);
    expect(sent.after(0).map((end) => end.seq)).toEqual([1, 2, 3]);
    expect(sent.after(3)).toEqual([]);
    expect([sent.seq, sent.oldest, sent.recent()]).toEqual([3, 1, true]);
  });

  it("forgets them after ttl (then oldest is seq + 1 and recent() is false), and past max, oldest first", () => {
    const time = clock();
    const sent = createSentEnds({ now: time.now, ttl: 30_000, max: 3 });
    sent.record({ user: "a" }, "UNAUTHENTICATED");
    time.advance(20_000);
    sent.record({ user: "b" }, "UNAUTHENTICATED");
    time.advance(10_000); // "a" is 30 s old: gone
    expect(sent.oldest).toBe(2);
    expect(sent.after(0).map((end) => end.seq)).toEqual([2]);
    for (const user of ["c", "d", "e"]) sent.record({ user }, "UNAUTHENTICATED");
    expect(sent.oldest).toBe(3); // max 3: "b" went too
    expect(sent.after(0).map((end) => end.seq)).toEqual([3, 4, 5]);
    time.advance(30_000);
    expect([sent.seq, sent.oldest, sent.recent(), sent.after(0)]).toEqual([5, 6, false, []]);
  });
});
