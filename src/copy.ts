/**
 * A deep copy of a session. The core gives one to every socket (and to `authenticate()`'s caller), so
 * no socket ever holds an object that a store, the web app or another socket holds (an in-process store
 * such as @fastify/session's MemoryStore hands out its live object); adapter authors may use it to hand
 * out records that share nothing with what their store keeps. Plain objects, arrays, Dates and byte
 * arrays are copied; other class instances (a BSON ObjectId, a Decimal128) are immutable values in
 * practice and are shared, keeping their prototype. Cycles stay cycles; a `__proto__` key stays an own key.
 * An object reached twice without a cycle (only possible in an in-process store's live object) is copied
 * twice: the copy is a tree (JSON and BSON sessions are trees anyway).
 */
export function copySession<S extends object>(session: S): S {
  // Sessions are trees in practice (JSON, BSON): copied without a cycle map first (issue 22: no Map per
  // handshake). A cycle, a depth past 64 or more than 10,000 objects (an object reached twice is
  // copied twice here) sends it to the full copy, which keeps shared objects shared.
  budget = TREE_BUDGET;
  const fast = copyTree(session, 0, false);
  return (fast === TOO_DEEP ? copy(session, new Map()) : fast) as S;
}

const TOO_DEEP = Symbol("too deep");
const TREE_BUDGET = 10_000;
let budget = 0;

// `json`: the value is JSON data made for this read (copyJsonSession), which holds no Date, byte array or
// symbol key: anything but a plain object or an array is then TOO_DEEP, for copySession to handle.
function copyTree(value: unknown, depth: number, json: boolean): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth > 64 || --budget < 0) return TOO_DEEP;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = copyTree(value[i], depth + 1, json);
      if (item === TOO_DEEP) return TOO_DEEP;
      out[i] = item;
    }
    return out;
  }
  if (!json && value instanceof Date) return new Date(value.getTime());
  if (!json && value instanceof Uint8Array) return Uint8Array.prototype.slice.call(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype) {
    // A spread copies the object with its shape (V8 clones the hidden class: as compact as the original,
    // where `{}` plus assignments reserves room for four fields), its own `__proto__` key included; then
    // only the values that are objects are replaced by their copies.
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    // A spread copies symbol-keyed properties too, which the copy never carries (nor shares): an object
    // with one takes the full copy (JSON and BSON sessions have none). V8 lists an object's symbols in
    // its runtime, the costliest step of a copy (issue 22): JSON data, which cannot hold one, skips it.
    if (!json && Object.getOwnPropertySymbols(out).length > 0) return TOO_DEEP;
    for (const key of Object.keys(out)) {
      const item = out[key];
      if (typeof item !== "object" || item === null) continue;
      const copied = copyTree(item, depth + 1, json);
      if (copied === TOO_DEEP) return TOO_DEEP;
      if (key === "__proto__")
        Object.defineProperty(out, key, { value: copied, enumerable: true, writable: true, configurable: true });
      else out[key] = copied;
    }
    return out;
  }
  if (json) return TOO_DEEP;
  if (proto !== null) return value;
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value)) {
    const item = copyTree((value as Record<string, unknown>)[key], depth + 1, false);
    if (item === TOO_DEEP) return TOO_DEEP;
    out[key] = item;
  }
  return out;
}

/**
 * `copySession` for a session that is JSON data made for this read (what `JSON.parse` returns: plain
 * objects and arrays of strings, finite numbers, booleans and null), without looking for symbol keys,
 * which JSON cannot hold. Anything else met on the way (a Date, a class instance, a null-prototype
 * object, a depth past 64) sends the whole session to `copySession`. Internal: the core uses it for
 * records an adapter of this package marks as JSON data (see `isJsonRecord`).
 */
export function copyJsonSession<S extends object>(session: S): S {
  budget = TREE_BUDGET;
  const fast = copyTree(session, 0, true);
  return (fast === TOO_DEEP ? copySession(session) : fast) as S;
}

/** The socket's own copy of a checked read's session: the JSON copy when the read was marked JSON data. */
export function copyReadSession<S extends object>(read: { readonly session: S; readonly json: boolean }): S {
  return read.json ? copyJsonSession(read.session) : copySession(read.session);
}

/**
 * Between the core and this package's adapters only (never documented for others): a record whose
 * session is JSON data made for this read carries this key as `true` on its prototype (an adapter's
 * record class). The adapters hand such records only to the core's callback read (GET_THEN in
 * store-calls.ts), where no wrapper of the store stands between; their `get` returns plain records. A
 * `Symbol.for`, as the adapters may be another copy of the package (ESM beside CommonJS).
 */
const JSON_RECORD = Symbol.for("socket.io-session-auth.jsonRecord");

/** Whether an adapter of this package marked `record` as holding JSON data made for this read. */
export function isJsonRecord(record: object): boolean {
  return (record as Record<symbol, unknown>)[JSON_RECORD] === true;
}

function copy(value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value !== "object" || value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(copy(item, seen));
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  // TypedArray#slice copies (Buffer#slice would share memory).
  if (value instanceof Uint8Array) return Uint8Array.prototype.slice.call(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
  seen.set(value, out);
  for (const key of Object.keys(value)) {
    const item = copy((value as Record<string, unknown>)[key], seen);
    // A "__proto__" key (JSON.parse makes own ones) must stay an own key: assigning it would set the
    // copy's prototype. Every other key is a plain assignment, which is much cheaper on this hot path.
    if (key === "__proto__")
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out;
}
