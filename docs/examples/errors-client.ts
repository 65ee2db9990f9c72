// #region client
import type { SessionAuthErrorCode } from "socket.io-session-auth"; // types only: nothing of the server ships to the browser

/** What the page should do about a refused socket. */
export type Next = "log-in" | "reload" | "retry" | "give-up";

export function nextStep(code: SessionAuthErrorCode): Next {
  switch (code) {
    case "NO_SESSION_COOKIE": // not logged in, or the cookie did not travel (withCredentials)
    case "SESSION_NOT_FOUND": // logged out, or the session is gone
    case "SESSION_EXPIRED":
    case "UNAUTHENTICATED": // a session, but nobody logged in
      return "log-in";
    case "MALFORMED_COOKIE":
    case "BAD_SIGNATURE": // the cookie is from another secret: a fresh login replaces it
      return "reload";
    case "STORE_UNAVAILABLE": // an outage: retry (unless err.data.retryable is false: a misconfiguration)
    case "SESSION_CONFLICT": // only from auth.update(), on the server: never seen by a connecting client
      return "retry";
    case "FORBIDDEN": // your authorize() said no
    case "ORIGIN_NOT_ALLOWED": // this page's origin may not connect
    case "SOCKET_DISCONNECTED": // only from auth.update()/reload() on the server, for a socket already gone
      return "give-up";
  }
}
// #endregion client
