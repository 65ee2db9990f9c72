import { describeValue } from "./describe.js";

/**
 * What kind of driver object a value is, told by what it has (never by a version number), so that an
 * adapter can refuse a wrong one when it is built, with a message that says what was given. Shared by the
 * adapters; bundled into each entry point that uses it.
 */
export type DriverKind =
  | "promise"
  | "function"
  | "class"
  | "express-session store"
  | "ioredis client"
  | "node-redis client"
  | "node-redis legacy client"
  | "callback redis client"
  | "MongoClient"
  | "Db"
  | "Collection"
  | "Map"
  | "other";

interface Probe {
  then?: unknown;
  prototype?: unknown;
  get?: unknown;
  createSession?: unknown;
  regenerate?: unknown;
  status?: unknown;
  isOpen?: unknown;
  isReady?: unknown;
  v4?: unknown;
  sendCommand?: unknown;
  send_command?: unknown;
  db?: unknown;
  collection?: unknown;
  databaseName?: unknown;
  findOne?: unknown;
  collectionName?: unknown;
}

export function driverKind(value: unknown): DriverKind {
  if (typeof value === "function") {
    const prototype = (value as Probe).prototype as Probe | undefined;
    return typeof prototype?.get === "function" ? "class" : "function";
  }
  if (typeof value !== "object" || value === null) return "other";
  const probe = value as Probe;
  if (typeof probe.then === "function") return "promise";
  if (value instanceof Map) return "Map";
  // express-session's Store base class gives every store these two (connect-redis, connect-mongo,
  // MemoryStore, memorystore...); drivers have neither.
  if (typeof probe.createSession === "function" && typeof probe.regenerate === "function")
    return "express-session store";
  if (typeof probe.status === "string" && typeof probe.get === "function") return "ioredis client";
  if (typeof probe.isOpen === "boolean") {
    // node-redis v4's `legacyMode: true` keeps the promise API under `client.v4` and makes the
    // top-level commands callback-style.
    return typeof probe.v4 === "object" && probe.v4 !== null ? "node-redis legacy client" : "node-redis client";
  }
  // node-redis v5+ `client.legacy()`: a RedisLegacyClient has the commands and sendCommand, callback-style,
  // and none of the client's state (isOpen, isReady) nor its events.
  if (
    typeof probe.sendCommand === "function" &&
    typeof probe.get === "function" &&
    probe.isReady === undefined &&
    probe.status === undefined
  ) {
    return "node-redis legacy client";
  }
  // node-redis v3 and older (and clients modelled on it): callback commands and send_command.
  if (typeof probe.send_command === "function") return "callback redis client";
  if (typeof probe.db === "function" && typeof probe.collection !== "function" && typeof probe.findOne !== "function")
    return "MongoClient";
  if (typeof probe.collection === "function" && typeof probe.databaseName === "string") return "Db";
  if (typeof probe.findOne === "function" && typeof probe.collectionName === "string") return "Collection";
  return "other";
}

const PHRASES: Record<Exclude<DriverKind, "other">, string> = {
  promise: "a promise (await it first)",
  function: "a function",
  class: "a class, not an instance of it",
  "express-session store": "an express-session store",
  "ioredis client": "an ioredis client",
  "node-redis client": "a node-redis client",
  "node-redis legacy client": "a node-redis legacy-mode client (callback-style: `legacyMode: true` or `.legacy()`)",
  "callback redis client": "a callback-style Redis client (node-redis v3 or older)",
  MongoClient: "a MongoClient",
  Db: "a MongoDB Db",
  Collection: "a MongoDB Collection",
  Map: "a Map",
};

/**
 * A description of `value` for a TypeError: its driver kind when it has one, its constructor's name for
 * a store (the class a user would recognize: RedisStore, MongoStore), else its JavaScript type. Never
 * the value itself.
 */
export function describeGiven(value: unknown): string {
  const kind = driverKind(value);
  if (kind === "other") return describeValue(value);
  const phrase = PHRASES[kind];
  if (kind === "express-session store") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && /^[A-Za-z_$][\w$]{0,63}$/.test(name) && name !== "Object"
      ? `${phrase} (${name})`
      : phrase;
  }
  return phrase;
}
