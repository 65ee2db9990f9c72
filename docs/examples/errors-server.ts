// #region on-error
import type { IncomingMessage } from "node:http";
import { sessionAuth, type SessionAuthError, type SessionStore } from "socket.io-session-auth";

/** One structured line per refused handshake. */
export type LogLine = {
  level: "info" | "warn";
  code: string;
  status: number;
  message: string;
  cause?: string;
  origin?: string;
};

export function authWithLogs(store: SessionStore, secret: string | string[], log: (line: LogLine) => void) {
  return sessionAuth({
    store,
    secret,
    timeout: 1500, // ms the store may take; past it, STORE_UNAVAILABLE
    onError(error: SessionAuthError, req: IncomingMessage) {
      // `message` says what to fix and `cause` is the driver's error: for your logs only. Neither
      // reaches the client, and neither holds a cookie value, a session id or a secret.
      log({
        level: error.retryable ? "warn" : "info", // STORE_UNAVAILABLE is yours to fix; the rest is the visitor's
        code: error.code,
        status: error.status,
        message: error.message,
        ...(error.cause instanceof Error ? { cause: `${error.cause.name}: ${error.cause.message}` } : {}),
        ...(req.headers.origin === undefined ? {} : { origin: req.headers.origin }),
      });
    },
  });
}
// #endregion on-error
