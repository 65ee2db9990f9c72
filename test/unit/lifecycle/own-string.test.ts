import { describe, expect, it } from "vitest";
import { ownString } from "../../../src/internal/own-string.js";

// The lifecycle keeps session ids, keys and room names as strings of their own (a slice would keep its
// parent alive): the copy must be the same text, whatever its length or characters.
describe("ownString", () => {
  it("gives the same text for every length and for characters outside one byte", () => {
    const parent = "s:abcdef0123456789ABCDEF.signature-part-of-the-cookie";
    for (const value of [
      "",
      "a",
      "ab",
      parent.slice(2, 14), // 12 characters: V8 copies a slice this short anyway
      parent.slice(2, 15),
      parent.slice(2, 26),
      `session:${"f".repeat(32)}`,
      "user:😀✓é",
      "😀",
      "\u0000x",
    ]) {
      expect(ownString(value)).toBe(value);
    }
  });
});
