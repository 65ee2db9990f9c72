import { describe, expect, it } from "vitest";
import { hear, readAnswer } from "../../../src/lifecycle/catch-up.js";

// The pure part of the catch-up between nodes (issue 18): when a peer's end number says ends were
// missed, and what a peer's answer is taken to hold. No adapter: plain values in, plain values out.

const KEY = "0123456789abcdef0123456789abcdef";
const WINDOW = 30_000;

describe("hear: a peer's end number", () => {
  it("a first contact with its end #1, or the next end in order, needs no catch-up", () => {
    expect(hear(0, 1, true)).toEqual({ catchUp: false, seq: 1 });
    expect(hear(4, 5, true)).toEqual({ catchUp: false, seq: 5 });
  });

  it("a beacon at the number already heard, or below it (an old message), needs none either", () => {
    expect(hear(5, 5, false)).toEqual({ catchUp: false, seq: 5 });
    expect(hear(5, 3, false)).toEqual({ catchUp: false, seq: 5 });
    expect(hear(5, 5, true)).toEqual({ catchUp: false, seq: 5 }); // a duplicate end
  });

  it("a jump catches up, keeping what was heard for the answer to move on", () => {
    expect(hear(4, 6, true)).toEqual({ catchUp: true, seq: 4 }); // end #5 was missed
    expect(hear(4, 5, false)).toEqual({ catchUp: true, seq: 4 }); // a beacon says #5 exists
    expect(hear(0, 3, false)).toEqual({ catchUp: true, seq: 0 }); // an unknown, busy peer: once
  });
});

describe("readAnswer: a peer's catch-up answer", () => {
  const answer = (ends: unknown[], extra: object = {}) => ({ node: "peer-a", seq: 7, oldest: 3, ends, ...extra });
  const had = (value: number) => (node: string) => (node === "peer-a" ? value : 0);

  it("takes the ends above what was heard, with ages clamped to [1, window]", () => {
    const read = readAnswer(
      answer([
        { seq: 4, key: KEY, code: "SESSION_NOT_FOUND", age: 900 },
        { seq: 5, user: "u-7", code: "UNAUTHENTICATED", age: 0 },
        { seq: 6, user: "u-8", code: "FORBIDDEN", age: 99_999 },
      ]),
      had(4),
      WINDOW,
    );
    expect(read).toEqual({
      node: "peer-a",
      seq: 7,
      lost: false,
      ends: [
        { seq: 5, target: { user: "u-7" }, code: "UNAUTHENTICATED", age: 1 },
        { seq: 6, target: { user: "u-8" }, code: "FORBIDDEN", age: WINDOW },
      ],
    });
  });

  it("skips malformed items without throwing, and refuses what is not an answer", () => {
    const read = readAnswer(
      answer([
        null,
        "x",
        { seq: -1, user: "u", code: "FORBIDDEN", age: 1 },
        { seq: 5, key: "not-a-key", code: "FORBIDDEN", age: 1 },
        { seq: 5, user: "", code: "FORBIDDEN", age: 1 },
        { seq: 5, user: "u".repeat(1025), code: "FORBIDDEN", age: 1 },
        { seq: 5, user: "u", code: "NOPE", age: 1 },
        { seq: 5, user: "u", code: "FORBIDDEN", age: Number.NaN },
        { seq: 5, user: "u", code: "FORBIDDEN" },
        { seq: 6, user: "ok", code: "FORBIDDEN", age: 5 },
      ]),
      had(0),
      WINDOW,
    );
    expect(read?.ends).toEqual([{ seq: 6, target: { user: "ok" }, code: "FORBIDDEN", age: 5 }]);
    for (const bad of [null, 3, {}, { node: "", seq: 1, ends: [] }, { node: "n", seq: 1.5, ends: [] }])
      expect(readAnswer(bad, had(0), WINDOW)).toBeUndefined();
    expect(readAnswer({ node: "n", seq: 1, ends: "no" }, had(0), WINDOW)).toBeUndefined();
    expect(readAnswer({ node: "n", seq: 1, ends: new Array(10_001).fill(null) }, had(0), WINDOW)).toBeUndefined();
  });

  it("moves the number heard to the answer's, never back", () => {
    expect(readAnswer(answer([], { seq: 2 }), had(4), WINDOW)?.seq).toBe(4);
    expect(readAnswer(answer([]), had(4), WINDOW)?.seq).toBe(7);
  });

  it("reports ends lost beyond the window: the peer no longer keeps some this node never heard", () => {
    expect(readAnswer(answer([], { oldest: 6 }), had(4), WINDOW)?.lost).toBe(true); // #5 is gone
    expect(readAnswer(answer([], { oldest: 5 }), had(4), WINDOW)?.lost).toBe(false);
    // A first contact knows nothing it could have lost (it learns the window, the read-time rule does the rest).
    expect(readAnswer(answer([], { oldest: 6 }), had(0), WINDOW)?.lost).toBe(false);
  });
});
