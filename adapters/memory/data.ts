import { describeValue, type SessionData } from "socket.io-session-auth/adapter";
import type { ExpressSessionStoreLike } from "./calls.js";

// What a store answered, as data: its JSON text (the revision), a copy of plain JSON data, whether the
// answer was parsed for this call alone, when the session ends, and what is written back.

/**
 * The session as JSON text: what the store holds for a string answer, `JSON.stringify` of an object
 * answer (how express-session's stores serialize). The record's `revision`, compared by `compareAndSet`.
 */
export function snapshot(value: unknown, report: (cause: unknown) => void): string | undefined {
  if (typeof value === "string") return value;
  try {
    const text = JSON.stringify(value);
    if (typeof text === "string") return text;
  } catch {
    // A cycle or a BigInt: reported below without the error, whose message could name session fields.
  }
  report(new TypeError(`the store answered ${describeValue(value)} that JSON cannot represent`));
  return undefined;
}

/**
 * A copy of plain JSON data (plain objects, arrays, strings, finite numbers, booleans, null), equal to
 * `JSON.parse(JSON.stringify(value))`; undefined for anything else (a class instance such as
 * @fastify/session's live Session, a Date, a toJSON, undefined, a function, a depth beyond 64), which
 * then takes the JSON round trip.
 */
export function jsonCopy(value: unknown, depth: number): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "object" || depth > 64) return undefined;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = jsonCopy(value[i], depth + 1);
      if (item === undefined) return undefined;
      out[i] = item;
    }
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = jsonCopy((value as Record<string, unknown>)[key], depth + 1);
    if (item === undefined) return undefined;
    // An own "__proto__" (JSON.parse makes them) stays an own key, as the JSON round trip keeps it.
    if (key === "__proto__")
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out;
}

/**
 * Whether `value` is what express-session's MemoryStore (1.x) made for this call: it keeps each session
 * as JSON text in `sessions[id]` and answers `get` with `JSON.parse` of it, a new object each time that
 * nothing else holds. Any other store (memorystore, @fastify/session's MemoryStore, which hands out the
 * object it keeps, a wrapper) is copied. A plain object from a store still keeping that id as text.
 */
export function parsedForUs(handle: ExpressSessionStoreLike, id: string, value: unknown): value is object {
  const kept = (handle as { sessions?: unknown }).sessions;
  return (
    typeof kept === "object" &&
    kept !== null &&
    typeof (kept as Record<string, unknown>)[id] === "string" &&
    typeof value === "object" &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

export function expiryOf(session: object): Date | null {
  const expires = (session as SessionData).cookie?.expires;
  if (typeof expires !== "string" && !(expires instanceof Date)) return null;
  const date = new Date(typeof expires === "string" ? isoTime(expires) : expires);
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * `Date.parse(text)` in milliseconds (NaN when unreadable), reading the form `Date#toJSON` writes
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`, ECMA-262 §21.4.1.32; what a session's `cookie.expires` is once the store
 * holds it as JSON) by hand: the store has just parsed the same string into a Date to check the expiry
 * (express-session 1.18 `MemoryStore#get`), and V8's general date parser costs a few thousand
 * instructions per handshake (issue 22). Anything else (another form, a day past the 28th, a year past
 * 9999) goes to `Date.parse`.
 */
function isoTime(text: string): number {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 || // .
    text.charCodeAt(23) !== 90 // Z
  )
    return Date.parse(text);
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const ms = digits(text, 20, 3);
  // A part that is not all digits is -1; the ranges Date.parse accepts past these are left to it.
  if (
    year < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 28 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59 ||
    ms < 0
  )
    return Date.parse(text);
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
}

/** The decimal number in `text` at `start`, `count` digits long; -1 when one of them is not a digit. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant, "chrono-compatible low-level date algorithms"). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/**
 * A copy of `session` as plain JSON data, with express-session's `Cookie#maxAge` (ms until
 * `cookie.expires`, or null) as a non-enumerable getter: not serialized, yet read by stores that size
 * an entry from it (memorystore's `getTTL` reads `session.cookie.maxAge`), so the entry keeps its end.
 */
export function forWriting(session: object): object {
  const copy = JSON.parse(JSON.stringify(session)) as SessionData;
  const cookie = copy.cookie;
  if (typeof cookie === "object" && cookie !== null) {
    const expires = expiryOf(copy);
    Object.defineProperty(cookie, "maxAge", {
      get: () => (expires === null ? null : expires.getTime() - Date.now()),
      enumerable: false,
      configurable: true,
    });
  }
  return copy;
}
