import { expect, it } from "vitest";
import { sessionAuth } from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";
import { RESERVED_EVENTS as pushReserved } from "socket.io-session-auth/push";
import { RESERVED_EVENTS } from "../../src/internal/socketio.js";

// One list of the event names socket.io reserves, for `endEvent` and for the push router's `event`: the
// two used to disagree on "error" (sessionAuth took it, the router refused it).

const options = { store: cookieStore(), signing: "keygrip", secret: "k" } as const;

it('refuses endEvent: "error" with a TypeError naming the option', () => {
  expect(() => sessionAuth({ ...options, endEvent: "error" })).toThrow(TypeError);
  expect(() => sessionAuth({ ...options, endEvent: "error" })).toThrow(/`endEvent`.*error/);
});

it("refuses every reserved name, and the push router checks the same list", () => {
  expect(pushReserved).toBe(RESERVED_EVENTS);
  expect([...RESERVED_EVENTS]).toContain("error");
  for (const name of RESERVED_EVENTS) expect(() => sessionAuth({ ...options, endEvent: name })).toThrow(TypeError);
  expect(() => sessionAuth({ ...options, endEvent: "session:ended" })).not.toThrow();
});
