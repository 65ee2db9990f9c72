import type { Server } from "socket.io";
import type { SessionAuthErrorCode } from "./errors.js";
import type { EndResult, LogoutRequest } from "./types.js";

type EndSession = (io: Server, sessionId: string, code?: SessionAuthErrorCode) => Promise<EndResult>;

/**
 * `auth.logout(io, req, code?)`: logs the request out and ends the sockets of the session it had, on every
 * node. The id is read before anything else runs, because both ways out change it: Passport ≥ 0.6's
 * `req.logout()` regenerates the session (`req.sessionID` is the new, anonymous one afterwards: ending
 * that ends nothing: passport 0.6.0's fix for session fixation, lib/sessionmanager.js `logOut`), and
 * express-session's `destroy()` drops it.
 *
 * With Passport (`req.logout` is a function) it calls `req.logout`; without, `req.session.destroy()`.
 * The sockets are ended even when that fails (the user asked to leave); the failure is then rethrown.
 * Throws a `TypeError` when the request has no `sessionID` (not behind express-session's middleware).
 */
export function logoutFor(endSession: EndSession) {
  return async (io: Server, req: LogoutRequest, code?: SessionAuthErrorCode): Promise<EndResult> => {
    const sessionId = req?.sessionID;
    if (typeof sessionId !== "string" || sessionId === "") {
      throw new TypeError(
        "auth.logout: the request has no `req.sessionID`. Call it from an Express route behind express-session's middleware; " +
          "with another framework, read its session id before logging out and call auth.endSession(io, id).",
      );
    }
    let failure: { error: unknown } | undefined;
    try {
      await logOutOf(req);
    } catch (error) {
      failure = { error };
    }
    const ended = await endSession(io, sessionId, code);
    if (failure !== undefined) throw failure.error;
    return ended;
  };
}

function logOutOf(req: LogoutRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve());
    const { logout } = req;
    if (typeof logout === "function") {
      // Passport before 0.6 logs out synchronously and takes no callback (it would never call one).
      if (logout.length === 0) {
        (logout as () => void).call(req);
        return resolve();
      }
      return void (logout as (done: (err?: unknown) => void) => void).call(req, done);
    }
    const destroy = req.session?.destroy;
    if (typeof destroy !== "function") {
      return reject(
        new TypeError(
          "auth.logout: the request has neither Passport's `req.logout` nor express-session's `req.session.destroy`.",
        ),
      );
    }
    destroy.call(req.session, done);
  });
}
