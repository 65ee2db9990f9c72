/**
 * The one prefix of every process warning this package emits (DESIGN "Diagnostics": warnings share one
 * code prefix), so `process.on("warning")` handlers and `--disable-warning=` can match them all.
 */
export const WARNING_PREFIX = "SOCKET_IO_SESSION_AUTH_";

/** The warnings this package emits, by the code's suffix. */
export type WarningName =
  "RECOVERY" | "CORS" | "SUBSCRIBE" | "KEYSPACE_EVENTS" | "ENDS_LOST" | "POSTGRES_NOTIFY" | (string & {});

/**
 * `process.emitWarning(message, { code: "SOCKET_IO_SESSION_AUTH_<name>" })`. The message should start
 * with "socket.io-session-auth: " and say the fix; callers say each warning once (per store, per
 * `sessionAuth`), never per handshake.
 *
 * @param name The code's suffix, e.g. `"CORS"` for `SOCKET_IO_SESSION_AUTH_CORS`.
 */
export function emitWarning(name: WarningName, message: string): void {
  process.emitWarning(message, { code: WARNING_PREFIX + name });
}
