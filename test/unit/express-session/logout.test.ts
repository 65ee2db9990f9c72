import type { Server } from "socket.io";
import { describe, expect, it } from "vitest";
import type { SessionAuthErrorCode } from "socket.io-session-auth";
import { logoutFor } from "../../../src/logout.js";

// auth.logout's choices without a server: which way out it takes, and that the id is the one read first.
// (test/integration/express-session/passport.test.ts runs it with Passport 0.7 and express-session.)

const io = {} as Server;
const ENDED = { nodes: 1, acknowledged: 1, complete: true };

function recorder() {
  const calls: Array<[string, SessionAuthErrorCode | undefined]> = [];
  const logout = logoutFor(async (_io, sessionId, code) => {
    calls.push([sessionId, code]);
    return ENDED;
  });
  return { calls, logout };
}

describe("auth.logout (unit)", () => {
  it("Passport before 0.6: a synchronous req.logout() with no callback", async () => {
    const { calls, logout } = recorder();
    const req = {
      sessionID: "before",
      logout(this: { sessionID: string }) {
        this.sessionID = "after";
      },
    };
    await expect(logout(io, req)).resolves.toEqual(ENDED);
    expect(calls).toEqual([["before", undefined]]);
  });

  it("Passport 0.6+: req.logout(done), with the code passed on", async () => {
    const { calls, logout } = recorder();
    const req = {
      sessionID: "before",
      logout(this: { sessionID: string }, done: (err?: unknown) => void) {
        setImmediate(() => {
          this.sessionID = "regenerated";
          done();
        });
      },
    };
    await logout(io, req, "FORBIDDEN");
    expect(calls).toEqual([["before", "FORBIDDEN"]]);
  });

  it("a failing logout still ends the sockets, then rejects with the failure", async () => {
    const { calls, logout } = recorder();
    const failure = new Error("store down");
    const req = { sessionID: "sid", session: { destroy: (done: (err?: unknown) => void) => done(failure) } };
    await expect(logout(io, req)).rejects.toBe(failure);
    expect(calls).toEqual([["sid", undefined]]);
  });

  it("a request with no session id is a TypeError naming the fix, and nothing is ended", async () => {
    const { calls, logout } = recorder();
    await expect(logout(io, {})).rejects.toThrow(/no `req\.sessionID`.*express-session.*auth\.endSession/);
    await expect(logout(io, { sessionID: "" })).rejects.toThrow(TypeError);
    expect(calls).toEqual([]);
  });

  it("a session id but neither req.logout nor req.session.destroy: the sockets end, then a TypeError", async () => {
    const { calls, logout } = recorder();
    await expect(logout(io, { sessionID: "sid" })).rejects.toThrow(/neither Passport's `req\.logout`/);
    expect(calls).toEqual([["sid", undefined]]);
  });
});
