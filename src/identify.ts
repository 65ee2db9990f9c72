import { SessionAuthError } from "./errors.js";

// Who the user is: the default `identify`, what a session that names nobody seems to hold (for the
// diagnosis), and the one normalising of whatever `identify` returns into a user id.

/**
 * The default `identify`: Passport (what `serializeUser` stored: an id, or a user object with `id` /
 * `_id`), then the common hand-rolled shapes.
 */
export function defaultIdentify(session: object): string | number | undefined {
  const user = own(session, "user");
  const passportUser = own(own(session, "passport"), "user");
  return (
    asId(passportUser) ??
    asId(own(passportUser, "id")) ??
    asId(own(passportUser, "_id")) ??
    asId(own(session, "userId")) ??
    asId(own(user, "id")) ??
    asId(own(user, "_id")) ??
    (typeof user === "string" || typeof user === "number" ? asId(user) : undefined)
  );
}

/** Where a session seems to hold a user that the default `identify` cannot read, for the diagnosis. */
export function unreadUser(session: object): string | undefined {
  const passportUser = own(own(session, "passport"), "user");
  if (passportUser !== undefined && passportUser !== null) return `\`passport.user\` holds ${shapeOf(passportUser)}`;
  const user = own(session, "user");
  if (user !== undefined && user !== null) return `\`user\` holds ${shapeOf(user)}`;
  return undefined;
}

function shapeOf(value: unknown): string {
  if (typeof value !== "object" || value === null) return `a ${typeof value}`;
  if (Array.isArray(value)) return "an array";
  const keys = Object.keys(value)
    .slice(0, 6)
    .map((k) => JSON.stringify(k.length > 30 ? `${k.slice(0, 30)}…` : k));
  return keys.length === 0 ? "an empty object" : `an object with keys ${keys.join(", ")}`;
}

function own(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && Object.hasOwn(value, key)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

function asId(value: unknown): string | number | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  // A BSON ObjectId (connect-mongo with `stringify: false`).
  if (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { toHexString?: unknown }).toHexString === "function"
  ) {
    return (value as { toHexString(): string }).toHexString();
  }
  return undefined;
}

/**
 * The user id `identify` returns for `session`, as a string, or null for nobody. Throws the refusal
 * (`UNAUTHENTICATED`) when `identify` throws or returns what could name the wrong user: a number beyond
 * 2^53 (rounded), a non-integer, an object.
 */
export function identifyUser<S extends object>(identify: (session: S) => unknown, session: S): string | null {
  let raw: unknown;
  try {
    raw = identify(session);
  } catch (cause) {
    throw new SessionAuthError("UNAUTHENTICATED", "The `identify` function threw; refused.", { cause });
  }
  if (raw === null || raw === undefined || raw === "") return null;
  if (typeof raw === "string") return raw;
  if (typeof raw === "bigint") return raw.toString();
  if (typeof raw === "number" && Number.isSafeInteger(raw)) return String(raw);
  if (typeof raw === "number") {
    // 12345678901234567890 arrives as 12345678901234567000: another user's room. Refuse, never round.
    throw new SessionAuthError(
      "UNAUTHENTICATED",
      `The user id is a number that is not a safe integer (${Number.isInteger(raw) ? "beyond 2^53, so rounded" : "not an integer"}): ` +
        "it could name another user. Keep such ids as strings, or return a string from `identify`.",
    );
  }
  throw new SessionAuthError(
    "UNAUTHENTICATED",
    `\`identify\` returned a ${typeof raw}; it must return a string, a number, or null.`,
  );
}
