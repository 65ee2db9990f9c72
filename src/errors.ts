/**
 * Why a handshake was refused. Stable: match on these, never on messages.
 *
 * | code | status | when |
 * |---|---|---|
 * | `NO_SESSION_COOKIE` | 401 | the handshake has no cookie of the configured name |
 * | `MALFORMED_COOKIE` | 400 | the cookie is there but is not of the scheme's shape |
 * | `BAD_SIGNATURE` | 401 | the cookie has the right shape but no secret verifies it |
 * | `SESSION_NOT_FOUND` | 401 | the store has no (readable) session under that id |
 * | `SESSION_EXPIRED` | 401 | the store's record has expired |
 * | `UNAUTHENTICATED` | 401 | the session has no user and `allowAnonymous` is off |
 * | `FORBIDDEN` | 403 | `authorize` said no |
 * | `ORIGIN_NOT_ALLOWED` | 403 | the Origin policy said no |
 * | `STORE_UNAVAILABLE` | 503 | the store failed or did not answer in time (retryable, unless the failure is a misconfiguration) |
 * | `SESSION_CONFLICT` | 409 | `auth.update()` only: the session kept changing under the write (retryable) |
 * | `SOCKET_DISCONNECTED` | 410 | `auth.update()` / `auth.reload()` only: the socket had disconnected (its tab closed); nothing was written |
 */
export type SessionAuthErrorCode =
  | "NO_SESSION_COOKIE"
  | "MALFORMED_COOKIE"
  | "BAD_SIGNATURE"
  | "SESSION_NOT_FOUND"
  | "SESSION_EXPIRED"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "ORIGIN_NOT_ALLOWED"
  | "STORE_UNAVAILABLE"
  | "SESSION_CONFLICT"
  | "SOCKET_DISCONNECTED";

const STATUS: Readonly<Record<SessionAuthErrorCode, number>> = {
  NO_SESSION_COOKIE: 401,
  MALFORMED_COOKIE: 400,
  BAD_SIGNATURE: 401,
  SESSION_NOT_FOUND: 401,
  SESSION_EXPIRED: 401,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  ORIGIN_NOT_ALLOWED: 403,
  STORE_UNAVAILABLE: 503,
  SESSION_CONFLICT: 409,
  // 410 Gone: the socket the call names is gone for good (issue 18 item 5); no retry brings it back.
  SOCKET_DISCONNECTED: 410,
};

/** Every code, in a stable order (handy for docs and exhaustive tests). */
export const SESSION_AUTH_ERROR_CODES = Object.freeze(Object.keys(STATUS)) as readonly SessionAuthErrorCode[];

/**
 * The one error the pipeline rejects with. `message` is a diagnosis for server logs (it names cookie
 * names, secret indexes and stores, never a secret, a cookie value or a session id); `cause` carries the
 * underlying failure (a driver error, an exception thrown by a callback). Neither reaches the client:
 * a socket.io client sees only `code` and `retryable`.
 */
export class SessionAuthError extends Error {
  override readonly name = "SessionAuthError";
  readonly code: SessionAuthErrorCode;
  /**
   * True for `STORE_UNAVAILABLE` (an outage: the same handshake may succeed a moment later) and
   * `SESSION_CONFLICT`; false for everything else, and for a store failure that is a programming or
   * configuration mistake (a `TypeError` from the driver), which no retry fixes.
   */
  readonly retryable: boolean;
  /** The HTTP status that fits (400, 401, 403, 409, 410 or 503). */
  readonly status: number;

  constructor(code: SessionAuthErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? (code === "STORE_UNAVAILABLE" || code === "SESSION_CONFLICT");
    this.status = STATUS[code];
  }
}

/** True for a {@link SessionAuthError}, across copies of this package too. */
export function isSessionAuthError(value: unknown): value is SessionAuthError {
  return (
    value instanceof SessionAuthError ||
    (value instanceof Error &&
      value.name === "SessionAuthError" &&
      typeof (value as { code?: unknown }).code === "string")
  );
}
