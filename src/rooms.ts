import { sha256Hex } from "./internal/hash.js";

/** Room-name prefixes. `false` (for both, or for one) joins none. */
export interface RoomOptions {
  /** Prefix of the per-user room (default `"user:"`). */
  user?: string | false;
  /** Prefix of the per-session room (default `"session:"`). */
  session?: string | false;
}

/** The prefixes in force; `null` for a room kind that is off. */
export interface RoomNaming {
  readonly user: string | null;
  readonly session: string | null;
}

export const DEFAULT_ROOMS: RoomNaming = Object.freeze({ user: "user:", session: "session:" });

/** Checks and completes a `rooms` option; `owner` names the function in the TypeError (`sessionAuth`). */
export function resolveRooms(option: RoomOptions | false | undefined, owner = "sessionAuth"): RoomNaming {
  if (option === false) return { user: null, session: null };
  if (option === undefined) return DEFAULT_ROOMS;
  if (typeof option !== "object" || option === null) {
    throw new TypeError(`${owner}: \`rooms\` must be false or { user?: string | false, session?: string | false }.`);
  }
  const pick = (key: "user" | "session"): string | null => {
    const value = option[key];
    if (value === undefined) return DEFAULT_ROOMS[key];
    if (value === false) return null;
    if (typeof value !== "string") throw new TypeError(`${owner}: \`rooms.${key}\` must be a string prefix or false.`);
    return value;
  };
  const naming = { user: pick("user"), session: pick("session") };
  // An empty prefix would put a user in the room of a socket id or a session key that happens to equal
  // their id; equal prefixes would mix users and sessions.
  if (naming.user === "" || naming.session === "")
    throw new TypeError(`${owner}: \`rooms\` prefixes must not be empty (use false to join none).`);
  if (naming.user !== null && naming.user === naming.session)
    throw new TypeError(`${owner}: \`rooms.user\` and \`rooms.session\` must differ.`);
  return naming;
}

/**
 * The public stand-in for a session id: the first 32 hex digits of its SHA-256. The session id itself is
 * a bearer secret, so rooms, logs and `socket.data` carry this instead.
 */
export function sessionKey(sessionId: string): string {
  return sha256Hex(sessionId).slice(0, 32);
}

/**
 * The room of every socket of a user: `user:<userId>` by default. A number must be a safe integer
 * (`Number.isSafeInteger`): a larger one has been rounded (by JSON, say) and would name another user's
 * room; pass such ids as strings. Throws a `TypeError` otherwise.
 */
export function userRoom(userId: string | number, prefix: string = DEFAULT_ROOMS.user!): string {
  if (typeof userId === "number" ? !Number.isSafeInteger(userId) : typeof userId !== "string" || userId === "") {
    throw new TypeError(
      `userRoom: \`userId\` must be a non-empty string or a safe integer; got ${typeof userId === "number" ? "a number that is not a safe integer (rounded?)" : typeof userId}.`,
    );
  }
  return `${prefix}${userId}`;
}

/** The room of every socket of a session, from the session id: `session:<sessionKey(id)>` by default. */
export function sessionRoom(sessionId: string, prefix: string = DEFAULT_ROOMS.session!): string {
  return `${prefix}${sessionKey(sessionId)}`;
}
