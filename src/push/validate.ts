import { describeValue } from "../internal/describe.js";
import { RESERVED_EVENTS } from "../internal/socketio.js";
import { sessionRoom, type RoomNaming } from "../rooms.js";
import { invalid, PushError } from "./errors.js";
import { DEFAULT_ACK_TIMEOUT, MAX_ACK_TIMEOUT } from "./types.js";

/**
 * The one validator: HTTP bodies and `send()` arguments both go through here, and come out as the
 * operations the executor runs. Everything read is attacker-controlled (an authenticated caller can
 * still be buggy or hostile), so every field is checked for type, size and unknown keys, and every
 * refusal names the path of the field at fault.
 */

export interface ValidatorConfig {
  readonly naming: RoomNaming;
  /** Namespaces the router serves; any other is a 404. */
  readonly namespaces: ReadonlySet<string>;
  readonly maxTargets: number;
  readonly maxBatch: number;
}

/** Who an operation reaches: `rooms` null means every socket of the namespace. */
export interface Scope {
  readonly namespace: string;
  readonly rooms: readonly string[] | null;
  readonly except: readonly string[];
}

export interface EmitOp {
  readonly id: string | undefined;
  readonly scope: Scope;
  readonly event: string;
  readonly data: unknown;
  /** Milliseconds to wait for acknowledgements; null for fire-and-forget. */
  readonly ackTimeout: number | null;
}

export interface DisconnectOp {
  readonly scope: Scope;
  readonly close: boolean;
  /**
   * The users and sessions of a `to` that names nothing else (no room, socket, `except`, namespace or
   * `close`): what the session lifecycle can end on every node (`auth.endUser` / `auth.endSession`).
   */
  readonly ends: { readonly users: readonly string[]; readonly sessions: readonly string[] } | null;
}

export interface RoomsOp {
  readonly scope: Scope;
  readonly rooms: readonly string[];
}

export interface PresenceOp {
  readonly namespace: string;
  /** [user id as given, its room]. */
  readonly users: ReadonlyArray<readonly [string, string]>;
}

export const MAX_EVENT_LENGTH = 200;
export const MAX_ID_LENGTH = 200;
/** Longest user id, room, socket id or session id accepted: room names are map keys on every node. */
export const MAX_NAME_LENGTH = 512;

type Fields = Record<string, unknown>;

const join = (path: string, key: string): string => (path === "" ? key : `${path}.${key}`);

/** A plain object whose own keys are all in `allowed`; keys whose value is `undefined` count as absent. */
function record(value: unknown, path: string, allowed: readonly string[], what = "an object"): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(path, `must be ${what}; got ${describeValue(value)}.`);
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw invalid(path, `must be a plain object (${what}).`);
  const fields = value as Fields;
  for (const key of Object.keys(fields)) {
    if (fields[key] !== undefined && !allowed.includes(key)) {
      throw invalid(
        join(path, key.length > 40 ? `${key.slice(0, 40)}…` : key),
        `unknown field; expected ${allowed.map((k) => `\`${k}\``).join(", ")}.`,
      );
    }
  }
  return fields;
}

function field(fields: Fields, key: string): unknown {
  return Object.hasOwn(fields, key) ? fields[key] : undefined;
}

function text(value: unknown, path: string, max: number): string {
  if (typeof value !== "string") throw invalid(path, `must be a string; got ${describeValue(value)}.`);
  if (value === "") throw invalid(path, "must not be empty.");
  if (value.length > max) throw invalid(path, `must be at most ${max} characters; got ${value.length}.`);
  return value;
}

/** Counts targets across `to` and `except` so one request stays within `maxTargets`. */
class Budget {
  private used = 0;
  constructor(private readonly max: number) {}
  take(count: number, path: string): void {
    this.used += count;
    if (this.used > this.max) {
      throw new PushError(
        "TOO_MANY_TARGETS",
        `${path}: at most ${this.max} targets (users, rooms, sockets, sessions) per request.`,
        { path },
      );
    }
  }
}

type Kind = "user" | "room" | "socket" | "session";

function names(value: unknown, path: string, kind: Kind, budget: Budget): string[] {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0)
    throw invalid(path, "must not be an empty array: an empty target list would reach nobody, or everybody.");
  budget.take(list.length, path);
  return list.map((item, index) => {
    const at = Array.isArray(value) ? `${path}[${index}]` : path;
    if (kind === "user" && typeof item === "number") {
      // JSON numbers are IEEE doubles: 12345678901234567890 parses as 12345678901234567000, the id of
      // someone else. Only an integer a double holds exactly names one user (RFC 8259 §6 on
      // interoperable integers; ECMAScript Number.isSafeInteger); anything else must come as a string.
      if (!Number.isSafeInteger(item)) {
        throw invalid(
          at,
          `must be a string, or a whole number from -(2^53 - 1) to 2^53 - 1 (a larger number is rounded by JSON parsers and would name another user); got ${String(item)}. Send the id as a string.`,
        );
      }
      return String(item);
    }
    if (typeof item !== "string") {
      throw invalid(
        at,
        `must be a string${kind === "user" ? " or a number" : ""}${Array.isArray(value) ? "" : ", or an array of them"}; got ${describeValue(item)}.`,
      );
    }
    return text(item, at, MAX_NAME_LENGTH);
  });
}

function userRooms(naming: RoomNaming, ids: readonly string[], path: string): string[] {
  if (naming.user === null)
    throw invalid(
      path,
      "user rooms are turned off (`rooms.user` is false), so users cannot be targeted; use `room` or `socket`.",
    );
  const prefix = naming.user;
  return ids.map((id) => prefix + id);
}

const TO_FIELDS = ["user", "room", "socket", "session", "all"] as const;
const EXCEPT_FIELDS = ["user", "room", "socket"] as const;

function targets(
  value: unknown,
  path: string,
  config: ValidatorConfig,
  budget: Budget,
  except: boolean,
): string[] | null {
  const fields = record(
    value,
    path,
    except ? EXCEPT_FIELDS : TO_FIELDS,
    except
      ? "an object of `user`, `room`, `socket`"
      : "an object of `user`, `room`, `socket`, `session`, or `{ all: true }`",
  );
  const all = field(fields, "all");
  if (all !== undefined) {
    if (all !== true) throw invalid(join(path, "all"), "must be true (or left out).");
    const other = TO_FIELDS.find((key) => key !== "all" && field(fields, key) !== undefined);
    if (other !== undefined) throw invalid(join(path, other), "cannot be combined with `all: true`.");
    return null;
  }
  const rooms = new Set<string>();
  let any = false;
  for (const kind of ["user", "room", "socket", "session"] as const) {
    const raw = field(fields, kind);
    if (raw === undefined) continue;
    any = true;
    const at = join(path, kind);
    const given = names(raw, at, kind, budget);
    const resolved =
      kind === "user"
        ? userRooms(config.naming, given, at)
        : kind === "session"
          ? sessionRooms(config.naming, given, at)
          : given;
    for (const room of resolved) rooms.add(room);
  }
  if (!any && !except)
    throw invalid(
      path,
      "must name at least one `user`, `room`, `socket` or `session`, or be `{ all: true }`: an empty `to` is never a broadcast.",
    );
  return [...rooms];
}

function sessionRooms(naming: RoomNaming, ids: readonly string[], path: string): string[] {
  if (naming.session === null)
    throw invalid(path, "session rooms are turned off (`rooms.session` is false), so sessions cannot be targeted.");
  const prefix = naming.session;
  return ids.map((id) => sessionRoom(id, prefix));
}

function namespaceOf(fields: Fields, path: string, config: ValidatorConfig): string {
  const raw = field(fields, "namespace");
  if (raw === undefined) return "/";
  const at = join(path, "namespace");
  const name = text(raw, at, MAX_NAME_LENGTH);
  if (!config.namespaces.has(name)) {
    throw new PushError(
      "UNKNOWN_NAMESPACE",
      `${at}: this router serves ${[...config.namespaces].map((n) => JSON.stringify(n)).join(", ")}; not ${JSON.stringify(name.slice(0, 100))}.`,
      { path: at },
    );
  }
  return name;
}

function scopeOf(fields: Fields, path: string, config: ValidatorConfig, budget: Budget): Scope {
  const to = field(fields, "to");
  if (to === undefined)
    throw invalid(
      join(path, "to"),
      "is required: `{ user }`, `{ room }`, `{ socket }`, `{ session }` or `{ all: true }`.",
    );
  const rooms = targets(to, join(path, "to"), config, budget, false);
  const exceptRaw = field(fields, "except");
  const except = exceptRaw === undefined ? [] : targets(exceptRaw, join(path, "except"), config, budget, true)!;
  return { namespace: namespaceOf(fields, path, config), rooms, except };
}

const MESSAGE_FIELDS = ["id", "to", "except", "namespace", "event", "data", "ack"] as const;

/** A message of `POST <path>`, of a batch, or of `send()`. */
export function validateMessage(value: unknown, config: ValidatorConfig, path = ""): EmitOp {
  const fields = record(value, path, MESSAGE_FIELDS, "a message object: { to, event?, data?, ... }");
  const idRaw = field(fields, "id");
  const id = idRaw === undefined ? undefined : text(idRaw, join(path, "id"), MAX_ID_LENGTH);
  const scope = scopeOf(fields, path, config, new Budget(config.maxTargets));
  const eventRaw = field(fields, "event");
  const event = eventRaw === undefined ? "message" : text(eventRaw, join(path, "event"), MAX_EVENT_LENGTH);
  if (RESERVED_EVENTS.has(event)) {
    throw invalid(
      join(path, "event"),
      `${JSON.stringify(event)} is reserved by socket.io; pick another event name.`,
      "RESERVED_EVENT",
    );
  }
  const ackRaw = field(fields, "ack");
  let ackTimeout: number | null = null;
  if (ackRaw !== undefined) {
    const ack = record(ackRaw, join(path, "ack"), ["timeout"], "an object { timeout?: milliseconds }");
    const timeout = field(ack, "timeout");
    if (timeout === undefined) ackTimeout = DEFAULT_ACK_TIMEOUT;
    else if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 1 || timeout > MAX_ACK_TIMEOUT) {
      throw invalid(join(path, "ack.timeout"), `must be a whole number of milliseconds from 1 to ${MAX_ACK_TIMEOUT}.`);
    } else ackTimeout = timeout;
  }
  const data = field(fields, "data");
  return { id, scope, event, data: data === undefined ? null : data, ackTimeout };
}

/** The body of `POST <path>/batch`: every message is checked before any is sent. */
export function validateBatch(value: unknown, config: ValidatorConfig): EmitOp[] {
  const fields = record(value, "", ["messages"], "an object { messages: [...] }");
  const messages = field(fields, "messages");
  if (!Array.isArray(messages))
    throw invalid("messages", `must be an array of messages; got ${describeValue(messages)}.`);
  if (messages.length > config.maxBatch) {
    throw new PushError(
      "TOO_MANY_MESSAGES",
      `messages: at most ${config.maxBatch} messages per batch; got ${messages.length}.`,
      { path: "messages" },
    );
  }
  return messages.map((message, index) => validateMessage(message, config, `messages[${index}]`));
}

/** The blog's original `{ type, pointer, content }`, sent as the `message` event. */
export function validateLegacy(value: unknown, config: ValidatorConfig): EmitOp {
  const fields = record(value, "", ["type", "pointer", "content"], "an object { type, pointer, content }");
  const type = field(fields, "type");
  const pointer = field(fields, "pointer");
  const content = field(fields, "content");
  const budget = new Budget(config.maxTargets);
  let rooms: string[] | null;
  if (type === "single") {
    if (pointer === undefined) throw invalid("pointer", 'is required with type "single": the user id.');
    rooms = userRooms(config.naming, names(pointer, "pointer", "user", budget), "pointer");
  } else if (type === "room") {
    if (pointer === undefined) throw invalid("pointer", 'is required with type "room": the room name.');
    rooms = names(pointer, "pointer", "room", budget);
  } else if (type === "all") {
    rooms = null;
  } else {
    throw invalid(
      "type",
      `must be "single", "room" or "all"; got ${typeof type === "string" ? JSON.stringify(type.slice(0, 40)) : type === undefined ? "nothing" : describeValue(type)}.`,
    );
  }
  return {
    id: undefined,
    scope: { namespace: "/", rooms, except: [] },
    event: "message",
    data: content === undefined ? null : content,
    ackTimeout: null,
  };
}

export function validateDisconnect(value: unknown, config: ValidatorConfig): DisconnectOp {
  const fields = record(
    value,
    "",
    ["to", "except", "namespace", "close"],
    "an object { to, except?, namespace?, close? }",
  );
  const scope = scopeOf(fields, "", config, new Budget(config.maxTargets));
  const close = field(fields, "close");
  if (close !== undefined && typeof close !== "boolean") throw invalid("close", "must be a boolean.");
  return { scope, close: close === true, ends: endsOf(fields, config) };
}

// `to` was checked by scopeOf above; this only picks users and sessions out of a `to` made of nothing else.
function endsOf(fields: Fields, config: ValidatorConfig): DisconnectOp["ends"] {
  if (["except", "namespace", "close"].some((key) => field(fields, key) !== undefined)) return null;
  const to = field(fields, "to") as Fields;
  if (["room", "socket", "all"].some((key) => field(to, key) !== undefined)) return null;
  const budget = new Budget(config.maxTargets);
  const pick = (kind: "user" | "session"): string[] => {
    const raw = field(to, kind);
    return raw === undefined ? [] : names(raw, join("to", kind), kind, budget);
  };
  return { users: pick("user"), sessions: pick("session") };
}

export function validateRooms(value: unknown, config: ValidatorConfig): RoomsOp {
  const fields = record(
    value,
    "",
    ["to", "except", "namespace", "rooms"],
    "an object { to, rooms, except?, namespace? }",
  );
  const budget = new Budget(config.maxTargets);
  const scope = scopeOf(fields, "", config, budget);
  const raw = field(fields, "rooms");
  if (raw === undefined) throw invalid("rooms", "is required: a room name or an array of them.");
  return { scope, rooms: [...new Set(names(raw, "rooms", "room", budget))] };
}

export function validatePresence(value: unknown, config: ValidatorConfig): PresenceOp {
  const fields = record(value, "", ["users", "namespace"], "an object { users: [...], namespace? }");
  const raw = field(fields, "users");
  if (!Array.isArray(raw)) throw invalid("users", `must be an array of user ids; got ${describeValue(raw)}.`);
  const ids = [...new Set(names(raw, "users", "user", new Budget(config.maxTargets)))];
  const rooms = userRooms(config.naming, ids, "users");
  return { namespace: namespaceOf(fields, "", config), users: ids.map((id, index) => [id, rooms[index]!] as const) };
}
