/**
 * Descriptions for messages. Values that may be secret are never quoted (session data, a token, a stored
 * session's bytes; a driver's message may quote a key, a command or a host): only their type is said.
 * `describeOption` alone shows a value, for options that are configuration (a version, a format, a flag).
 */

/** A value's type for a message ("an object", "a string", "null"), never the value itself. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a Date";
  const type = typeof value;
  return type === "object" ? "an object" : `a ${type}`;
}

/**
 * An option's value for a TypeError: a string quoted, a number or boolean as written (an option value is
 * configuration, no secret), anything else by its type.
 */
export function describeOption(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return describeValue(value);
}

/**
 * A failure's name and code (`Error ECONNREFUSED`, `ReplyError`), never its message: a driver's message
 * can quote keys, commands or host names. A thrown non-error is described by its type.
 */
export function describeFailure(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === "string" || typeof code === "number" ? `${cause.name} ${code}` : cause.name;
  }
  return typeof cause;
}

/** For the debug log: `; cause: <name and code>` of an error's cause, or "" when it has none. */
export function causeOf(error: { cause?: unknown }): string {
  return error.cause === undefined ? "" : `; cause: ${describeFailure(error.cause)}`;
}
