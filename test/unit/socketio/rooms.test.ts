import { describe, expect, it } from "vitest";
import { userRoom } from "socket.io-session-auth";

describe("userRoom", () => {
  it("refuses a number that is not a safe integer, which would name another user's room", () => {
    expect(userRoom(42)).toBe("user:42");
    expect(userRoom("12345678901234567890")).toBe("user:12345678901234567890");
    expect(() => userRoom(2 ** 60)).toThrow(TypeError);
    expect(() => userRoom(1.5)).toThrow(TypeError);
    expect(() => userRoom("")).toThrow(TypeError);
  });
});
