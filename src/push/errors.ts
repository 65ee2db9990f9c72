/**
 * Why a push was refused. Stable: match on `code`, never on `message`.
 *
 * | code | status | when |
 * |---|---|---|
 * | `BAD_JSON` | 400 | the body is not JSON (or not UTF-8) |
 * | `DUPLICATE_KEY` | 400 | a JSON object of the body repeats a key; `path` names it (RFC 8259 §4 leaves the meaning to each parser) |
 * | `INVALID_MESSAGE` | 400 | a field is missing, of the wrong type, or unknown; `path` names it |
 * | `RESERVED_EVENT` | 400 | the event is one of socket.io's reserved names (`connect`, `disconnect`...) |
 * | `TOO_MANY_TARGETS` | 400 | more than `maxTargets` users, rooms, sockets and sessions in one request |
 * | `TOO_MANY_MESSAGES` | 400 | a batch of more than `maxBatch` messages |
 * | `TOKEN_IN_QUERY` | 400 | a token was put in the query string (it belongs in `Authorization`) |
 * | `UNAUTHORIZED` | 401 | no bearer token, or a wrong one (the same answer for both) |
 * | `NOT_FOUND` | 404 | no endpoint at this path |
 * | `UNKNOWN_NAMESPACE` | 404 | the message names a namespace the router does not serve |
 * | `METHOD_NOT_ALLOWED` | 405 | a GET where a POST is expected, or the reverse (`Allow` says which) |
 * | `REQUEST_TIMEOUT` | 408 | the body did not arrive within `readTimeout` |
 * | `IDEMPOTENCY_KEY_IN_USE` | 409 | the first request with this key is still running on another node, past its deadline (or that node died): its outcome is unknown |
 * | `PAYLOAD_TOO_LARGE` | 413 | the body is over `maxBodyBytes` |
 * | `UNSUPPORTED_MEDIA_TYPE` | 415 | the body is not `application/json` (UTF-8) |
 * | `UNSUPPORTED_CONTENT_ENCODING` | 415 | the body is compressed (`Content-Encoding` other than `identity`); `Accept-Encoding: identity` says what is taken |
 * | `IDEMPOTENCY_KEY_REUSED` | 422 | the `Idempotency-Key` (or `id`) was first used with another payload (IETF draft-ietf-httpapi-idempotency-key-header) |
 * | `INTERNAL_ERROR` | 500 | a bug: the router failed unexpectedly (see `onError`) |
 * | `ADAPTER_UNAVAILABLE` | 503 | the socket.io adapter failed, or fewer nodes answered than exist: no partial count is given |
 * | `IDEMPOTENCY_UNAVAILABLE` | 503 | the shared idempotency store (Redis) did not answer: nothing was sent; retry with the same key |
 * | `SHUTTING_DOWN` | 503 | `close()` was called |
 *
 * The client adds, with `status` 0 (no HTTP answer): `NETWORK_ERROR`, `TIMEOUT`; and `BAD_RESPONSE` when
 * the server answered something that is not the router's JSON.
 */
export type PushErrorCode =
  | "BAD_JSON"
  | "DUPLICATE_KEY"
  | "INVALID_MESSAGE"
  | "RESERVED_EVENT"
  | "TOO_MANY_TARGETS"
  | "TOO_MANY_MESSAGES"
  | "TOKEN_IN_QUERY"
  | "UNAUTHORIZED"
  | "NOT_FOUND"
  | "UNKNOWN_NAMESPACE"
  | "METHOD_NOT_ALLOWED"
  | "REQUEST_TIMEOUT"
  | "IDEMPOTENCY_KEY_IN_USE"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UNSUPPORTED_CONTENT_ENCODING"
  | "IDEMPOTENCY_KEY_REUSED"
  | "INTERNAL_ERROR"
  | "ADAPTER_UNAVAILABLE"
  | "IDEMPOTENCY_UNAVAILABLE"
  | "SHUTTING_DOWN"
  | "NETWORK_ERROR"
  | "TIMEOUT"
  | "BAD_RESPONSE";

const STATUS: Readonly<Record<PushErrorCode, number>> = {
  BAD_JSON: 400,
  DUPLICATE_KEY: 400,
  INVALID_MESSAGE: 400,
  RESERVED_EVENT: 400,
  TOO_MANY_TARGETS: 400,
  TOO_MANY_MESSAGES: 400,
  TOKEN_IN_QUERY: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  UNKNOWN_NAMESPACE: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  IDEMPOTENCY_KEY_IN_USE: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNSUPPORTED_CONTENT_ENCODING: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  INTERNAL_ERROR: 500,
  ADAPTER_UNAVAILABLE: 503,
  IDEMPOTENCY_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  NETWORK_ERROR: 0,
  TIMEOUT: 0,
  BAD_RESPONSE: 0,
};

/** Every code, in a stable order (for docs and exhaustive tests). */
export const PUSH_ERROR_CODES = Object.freeze(Object.keys(STATUS)) as readonly PushErrorCode[];

/** The HTTP status the router answers a code with (0 for the client-side codes). */
export function pushErrorStatus(code: PushErrorCode): number {
  return STATUS[code];
}

/**
 * A refused or failed push: thrown by the router's `send()` (a bad message) and by the client (any
 * non-2xx answer, or no answer at all). `code` is the server's code as it sent it; `status` the HTTP
 * status (0 when no answer came back); `path` names the bad field of a 400, when there is one.
 */
export class PushError extends Error {
  override readonly name = "PushError";
  /** A {@link PushErrorCode}; typed as string because a newer server may send a code this client does not know. */
  readonly code: string;
  readonly status: number;
  /** The field at fault, as `to.user[2]` or `messages[3].event`; only for 400s about a field. */
  readonly path: string | undefined;

  constructor(code: string, message: string, options: { status?: number; path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? (Object.hasOwn(STATUS, code) ? STATUS[code as PushErrorCode] : 500);
    this.path = options.path;
  }

  /** Worth retrying the same request (with the same Idempotency-Key): no answer, or a 5xx. */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500;
  }

  /** The JSON body the router answers with. */
  toJSON(): { ok: false; error: { code: string; message: string; path?: string } } {
    return {
      ok: false,
      error:
        this.path === undefined
          ? { code: this.code, message: this.message }
          : { code: this.code, message: this.message, path: this.path },
    };
  }
}

/** True for a {@link PushError}, across copies of this package too. */
export function isPushError(value: unknown): value is PushError {
  return (
    value instanceof PushError ||
    (value instanceof Error &&
      value.name === "PushError" &&
      typeof (value as { code?: unknown }).code === "string" &&
      typeof (value as { status?: unknown }).status === "number")
  );
}

/** A 400 about one field. */
export function invalid(path: string, message: string, code: PushErrorCode = "INVALID_MESSAGE"): PushError {
  return new PushError(code, path === "" ? message : `${path}: ${message}`, { path });
}
