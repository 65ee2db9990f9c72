import { expect, it } from "vitest";
import { sessionAuth } from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";
import { RESERVED_EVENTS } from "../../../src/internal/socketio.js";
import { PushError } from "../../../src/push/errors.js";
import { validateMessage, type ValidatorConfig } from "../../../src/push/validate.js";
import { DEFAULT_ROOMS } from "../../../src/rooms.js";

// One list of the event names socket.io reserves, for `endEvent` and for the push router's `event`: the
// two used to disagree on "error" (sessionAuth took it, the router refused it).

const options = { store: cookieStore(), signing: "keygrip", secret: "k" } as const;
const push: ValidatorConfig = { naming: DEFAULT_ROOMS, namespaces: new Set(["/"]), maxTargets: 10, maxBatch: 10 };

function pushRefusal(event: string): string | undefined {
  try {
    validateMessage({ to: { user: "1" }, event }, push);
  } catch (error) {
    if (error instanceof PushError) return error.code;
    throw error;
  }
  return undefined;
}

it('refuses endEvent: "error" with a TypeError naming the option', () => {
  expect(() => sessionAuth({ ...options, endEvent: "error" })).toThrow(TypeError);
  expect(() => sessionAuth({ ...options, endEvent: "error" })).toThrow(/`endEvent`.*error/);
});

it("refuses every reserved name, as the push router does", () => {
  expect([...RESERVED_EVENTS]).toContain("error");
  for (const name of RESERVED_EVENTS) {
    expect(() => sessionAuth({ ...options, endEvent: name }), name).toThrow(TypeError);
    expect(pushRefusal(name), name).toBe("RESERVED_EVENT");
  }
  expect(() => sessionAuth({ ...options, endEvent: "session:ended" })).not.toThrow();
  expect(pushRefusal("session:ended")).toBeUndefined();
});
