import { Binary, EJSON, Long, ObjectId, Timestamp, type Document } from "bson";

// The query language subset that connect-mongo, express-session and our adapter use, with MongoDB's
// semantics where they are surprising (a null condition matches a missing field; comparisons only within a
// type bracket; an array field matches when any element does). Anything outside the subset throws a
// CommandError, so a new client need shows up as a loud failure rather than a wrong answer.

/** A command failure, answered as `{ ok: 0, errmsg, code, codeName }` (or as a write error). */
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

const badValue = (message: string): CommandError => new CommandError(2, "BadValue", message);

export function isPlainObject(value: unknown): value is Document {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** BSON's comparison order of types (canonical type brackets); numbers of every width share one. */
function bracket(value: unknown): number {
  if (value === undefined || value === null) return 1;
  if (typeof value === "number" || typeof value === "bigint" || value instanceof Long) return 2;
  if (typeof value === "string") return 3;
  if (Array.isArray(value)) return 5;
  if (value instanceof Binary) return 6;
  if (value instanceof ObjectId) return 7;
  if (typeof value === "boolean") return 8;
  if (value instanceof Date) return 9;
  if (value instanceof Timestamp) return 10;
  if (value instanceof RegExp) return 11;
  if (isPlainObject(value)) return 4;
  return 12; // other BSON types: compared by their canonical Extended JSON below
}

const toNumber = (value: unknown): number => (value instanceof Long ? value.toNumber() : Number(value));

/**
 * Orders two values as MongoDB does within a bracket; `undefined` when they are in different brackets
 * (MongoDB's $gt and friends never match across types).
 */
export function compare(a: unknown, b: unknown): number | undefined {
  const kind = bracket(a);
  if (kind !== bracket(b)) return undefined;
  switch (kind) {
    case 1:
      return 0;
    case 2:
      return Math.sign(toNumber(a) - toNumber(b));
    case 3:
      // The simple collation compares UTF-8 bytes, not UTF-16 code units.
      return Buffer.compare(Buffer.from(a as string, "utf8"), Buffer.from(b as string, "utf8"));
    case 7:
      return Buffer.compare(Buffer.from((a as ObjectId).id), Buffer.from((b as ObjectId).id));
    case 8:
      return Number(a) - Number(b);
    case 9:
      return Math.sign((a as Date).getTime() - (b as Date).getTime());
    case 6: {
      const [x, y] = [a as Binary, b as Binary];
      return (
        Math.sign(x.length() - y.length()) ||
        Math.sign(x.sub_type - y.sub_type) ||
        Buffer.compare(Buffer.from(x.buffer), Buffer.from(y.buffer))
      );
    }
    default: {
      // Documents, arrays and the rarer types: equal exactly when their canonical forms are.
      const [x, y] = [EJSON.stringify(a, { relaxed: false }), EJSON.stringify(b, { relaxed: false })];
      return x === y ? 0 : x < y ? -1 : 1;
    }
  }
}

export const equals = (a: unknown, b: unknown): boolean => compare(a, b) === 0;

/** The value at a dotted path; through an array of documents, the array of each element's value. */
export function valueAt(document: unknown, path: string): unknown {
  let current: unknown = document;
  for (const part of path.split(".")) {
    if (Array.isArray(current) && !/^\d+$/.test(part)) {
      const values = current
        .map((element) => (isPlainObject(element) ? element[part] : undefined))
        .filter((v) => v !== undefined);
      current = values.length === 0 ? undefined : values;
    } else if (isPlainObject(current) || Array.isArray(current)) {
      current = Object.hasOwn(current, part) ? (current as Document)[part] : undefined;
    } else {
      return undefined;
    }
  }
  return current;
}

const isOperatorObject = (value: unknown): value is Document =>
  isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((key) => key.startsWith("$"));

function matchesEquality(value: unknown, target: unknown): boolean {
  if (target === null) return value === undefined || value === null || (Array.isArray(value) && value.includes(null));
  if (equals(value, target)) return true;
  return Array.isArray(value) && value.some((element) => equals(element, target));
}

function matchesComparison(value: unknown, operator: string, target: unknown): boolean {
  // A null bound only matches null/missing, and only through the inclusive operators.
  if (target === null) return (operator === "$gte" || operator === "$lte") && matchesEquality(value, null);
  const candidates = Array.isArray(value) && !Array.isArray(target) ? value : [value];
  return candidates.some((candidate) => {
    const order = compare(candidate, target);
    if (order === undefined) return false;
    if (operator === "$gt") return order > 0;
    if (operator === "$gte") return order >= 0;
    if (operator === "$lt") return order < 0;
    return order <= 0;
  });
}

function matchesOperators(value: unknown, operators: Document): boolean {
  return Object.entries(operators).every(([operator, argument]) => {
    switch (operator) {
      case "$eq":
        return matchesEquality(value, argument);
      case "$ne":
        return !matchesEquality(value, argument);
      case "$gt":
      case "$gte":
      case "$lt":
      case "$lte":
        return matchesComparison(value, operator, argument);
      case "$in":
      case "$nin": {
        if (!Array.isArray(argument)) throw badValue(`${operator} needs an array`);
        const found = argument.some((target) => matchesEquality(value, target));
        return operator === "$in" ? found : !found;
      }
      case "$exists":
        return Boolean(argument) === (value !== undefined);
      default:
        throw badValue(`unknown operator: ${operator} (not supported by the test server)`);
    }
  });
}

/** Whether `document` matches the query `filter`. Throws {@link CommandError} for what the subset lacks. */
export function matches(document: Document, filter: Document): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === "$and" || key === "$or" || key === "$nor") {
      if (!Array.isArray(condition) || condition.length === 0 || !condition.every(isPlainObject)) {
        throw badValue(`${key} must be a nonempty array of documents`);
      }
      const clauses = condition as Document[];
      if (key === "$and") return clauses.every((clause) => matches(document, clause));
      if (key === "$or") return clauses.some((clause) => matches(document, clause));
      return !clauses.some((clause) => matches(document, clause));
    }
    if (key.startsWith("$")) throw badValue(`unknown top level operator: ${key} (not supported by the test server)`);
    const value = valueAt(document, key);
    return isOperatorObject(condition) ? matchesOperators(value, condition) : matchesEquality(value, condition);
  });
}

/** Applies a find projection: inclusion (`{ a: 1 }`, `_id` kept unless `_id: 0`) or exclusion (`{ a: 0 }`). */
export function project(document: Document, projection: Document | undefined): Document {
  if (projection === undefined || Object.keys(projection).length === 0) return document;
  let mode: "include" | "exclude" | undefined;
  for (const [field, flag] of Object.entries(projection)) {
    if (field.includes(".") || field.startsWith("$") || typeof flag === "object") {
      throw badValue(`projection of ${JSON.stringify(field)} is not supported by the test server (top-level 0/1 only)`);
    }
    if (field === "_id") continue;
    const wanted = flag ? "include" : "exclude";
    if (mode !== undefined && mode !== wanted) {
      throw new CommandError(
        31254,
        "Location31254",
        `Cannot do ${wanted === "include" ? "inclusion" : "exclusion"} on field ${field} in ${mode === "include" ? "inclusion" : "exclusion"} projection`,
      );
    }
    mode = wanted;
  }
  const keepId = projection._id === undefined || Boolean(projection._id);
  const result: Document = {};
  for (const [field, value] of Object.entries(document)) {
    const keep = field === "_id" ? keepId : mode === "include" ? Boolean(projection[field]) : !(field in projection);
    if (keep) put(result, field, value);
  }
  return result;
}

function checkPath(path: string): string[] {
  const parts = path.split(".");
  if (parts.some((part) => part === "" || part.startsWith("$")))
    throw badValue(`invalid update path ${JSON.stringify(path)}`);
  return parts;
}

function setAt(document: Document, path: string, value: unknown): void {
  const parts = checkPath(path);
  let current = document;
  for (const part of parts.slice(0, -1)) {
    if (current[part] === undefined) put(current, part, {});
    if (!isPlainObject(current[part]))
      throw new CommandError(28, "PathNotViable", `cannot create field in ${JSON.stringify(path)}`);
    current = current[part] as Document;
  }
  put(current, parts.at(-1)!, value);
}

function unsetAt(document: Document, path: string): void {
  const parts = checkPath(path);
  const holder = parts.length === 1 ? document : valueAt(document, parts.slice(0, -1).join("."));
  if (isPlainObject(holder)) delete holder[parts.at(-1)!];
}

/**
 * The document after `update`: a replacement document, or the operators `$set`, `$unset`, `$setOnInsert`
 * (only when `inserting`), `$currentDate` and `$inc`. `document` is not modified.
 */
export function applyUpdate(document: Document, update: Document, inserting: boolean): Document {
  if (!isPlainObject(update))
    throw new CommandError(
      9,
      "FailedToParse",
      "the update must be a document (pipelines are not supported by the test server)",
    );
  const keys = Object.keys(update);
  const result: Document = copyDocument(document);
  if (!keys.some((key) => key.startsWith("$"))) {
    if (update._id !== undefined && document._id !== undefined && !equals(update._id, document._id)) {
      throw new CommandError(66, "ImmutableField", "the (immutable) field '_id' was found to have been altered");
    }
    const replaced: Document = document._id === undefined ? {} : { _id: document._id };
    for (const [field, value] of Object.entries(update)) if (field !== "_id") put(replaced, field, value);
    if (replaced._id === undefined && update._id !== undefined) replaced._id = update._id;
    return replaced;
  }
  for (const [operator, fields] of Object.entries(update)) {
    if (!isPlainObject(fields))
      throw new CommandError(9, "FailedToParse", `Modifiers operate on fields but we found ${typeof fields} instead`);
    for (const [path, argument] of Object.entries(fields)) {
      switch (operator) {
        case "$set":
          setAt(result, path, argument);
          break;
        case "$setOnInsert":
          if (inserting) setAt(result, path, argument);
          break;
        case "$unset":
          unsetAt(result, path);
          break;
        case "$currentDate":
          if (!(argument === true || (isPlainObject(argument) && argument.$type === "date"))) {
            throw badValue(
              `$currentDate ${JSON.stringify(path)}: only true or { $type: "date" } are supported by the test server`,
            );
          }
          setAt(result, path, new Date());
          break;
        case "$inc": {
          const current = valueAt(result, path);
          if (typeof argument !== "number" || (current !== undefined && typeof current !== "number")) {
            throw new CommandError(14, "TypeMismatch", `Cannot apply $inc to ${JSON.stringify(path)}`);
          }
          setAt(result, path, (current ?? 0) + argument);
          break;
        }
        default:
          throw new CommandError(
            9,
            "FailedToParse",
            `Unknown modifier: ${operator} (not supported by the test server)`,
          );
      }
    }
  }
  if (document._id !== undefined && !equals(result._id, document._id)) {
    throw new CommandError(
      66,
      "ImmutableField",
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
  return result;
}

/** What an upsert inserts before applying its update: the filter's top-level equality conditions. */
export function seedFromFilter(filter: Document): Document {
  const seed: Document = {};
  for (const [field, condition] of Object.entries(filter)) {
    if (field === "$and" && Array.isArray(condition)) {
      for (const clause of condition) if (isPlainObject(clause)) Object.assign(seed, seedFromFilter(clause));
    } else if (!field.startsWith("$") && !field.includes(".")) {
      if (!isOperatorObject(condition)) put(seed, field, condition);
      else if ("$eq" in condition) put(seed, field, condition.$eq);
    }
  }
  return seed;
}

// Top-level copies are enough: every operator above replaces values rather than mutating them in place,
// except setAt on nested documents, which is why nested plain documents are copied too.
function copyDocument(document: Document): Document {
  const copy: Document = {};
  for (const [field, value] of Object.entries(document))
    put(copy, field, isPlainObject(value) ? copyDocument(value) : value);
  return copy;
}

/** Sets an own property, even one named `__proto__` (BSON allows that key; a plain assignment would swap the prototype). */
export function put(document: Document, field: string, value: unknown): void {
  if (field === "__proto__")
    Object.defineProperty(document, field, { value, writable: true, enumerable: true, configurable: true });
  else document[field] = value;
}
