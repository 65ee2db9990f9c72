import { expect, it } from "vitest";
import { SessionAuthError } from "socket.io-session-auth";
import { createEndedMemory } from "../../src/lifecycle/ended.js";

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
