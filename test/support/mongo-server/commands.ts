import { deserialize, EJSON, ObjectId, serialize, type Document } from "bson";
import { applyUpdate, CommandError, isPlainObject, matches, project, seedFromFilter } from "./query.js";
import { cursorId, MAX_MESSAGE_BYTES } from "./wire.js";

// The commands the Node driver (7.x) and connect-mongo (5, 6) send to a standalone server, answered from
// memory. Documents are kept as BSON bytes, so each read hands out a fresh copy, as a real server would.

interface CollectionData {
  /** Keyed by the canonical Extended JSON of `_id`, so "1" and 1 stay distinct, in insertion order. */
  documents: Map<string, Uint8Array>;
  /** Secondary index specs as createIndexes received them (the `_id_` index is implicit). */
  indexes: Document[];
}

interface OpenCursor {
  namespace: string;
  remaining: Document[];
}

/** What a command handler sees. */
export interface CommandContext {
  db: string;
  body: Document;
  connectionId: number;
}

type Handler = (context: CommandContext) => Document;

const DEFAULT_BATCH = 101; // mongod's default first batch
const idKey = (id: unknown): string => EJSON.stringify({ id }, { relaxed: false });

/** The data and the command table; one per server, surviving stop()/start() as a real server's disk would. */
export class Storage {
  private readonly databases = new Map<string, Map<string, CollectionData>>();
  private readonly cursors = new Map<bigint, OpenCursor>();
  private nextCursor = 1n;

  /** Every stored document of a collection, decoded (for tests that inspect the server directly). */
  documents(db: string, collection: string): Document[] {
    return [...(this.collection(db, collection)?.documents.values() ?? [])].map((bytes) => deserialize(bytes));
  }

  /** Empties everything (a fresh server). */
  clear(): void {
    this.databases.clear();
    this.cursors.clear();
  }

  /** Runs one command; unknown ones throw CommandError 59, as mongod answers them. */
  run(name: string, context: CommandContext): Document {
    const handler = this.handlers[name];
    if (handler === undefined) throw new CommandError(59, "CommandNotFound", `no such command: '${name}'`);
    return handler(context);
  }

  readonly knows = (name: string): boolean => Object.hasOwn(this.handlers, name);

  private collection(db: string, name: string, create = false): CollectionData | undefined {
    let database = this.databases.get(db);
    if (database === undefined) {
      if (!create) return undefined;
      database = new Map();
      this.databases.set(db, database);
    }
    let collection = database.get(name);
    if (collection === undefined && create) {
      collection = { documents: new Map(), indexes: [] };
      database.set(name, collection);
    }
    return collection;
  }

  private *scan(collection: CollectionData | undefined, filter: Document): Generator<[string, Document]> {
    if (collection === undefined) return;
    // A filter on _id alone is the common case (every session lookup): answer it without a scan.
    if (Object.keys(filter).length === 1 && filter._id !== undefined && !isPlainObject(filter._id)) {
      const bytes = collection.documents.get(idKey(filter._id));
      if (bytes !== undefined) yield [idKey(filter._id), deserialize(bytes)];
      return;
    }
    for (const [key, bytes] of collection.documents) {
      const document = deserialize(bytes);
      if (matches(document, filter)) yield [key, document];
    }
  }

  private batch(
    namespace: string,
    documents: Document[],
    batchSize: number,
    single: boolean,
    first: boolean,
  ): Document {
    const size = batchSize > 0 ? batchSize : DEFAULT_BATCH;
    const now = documents.slice(0, size);
    let id = 0n;
    if (!single && documents.length > size) {
      id = this.nextCursor++;
      this.cursors.set(id, { namespace, remaining: documents.slice(size) });
    }
    return { cursor: { [first ? "firstBatch" : "nextBatch"]: now, id: cursorId(id), ns: namespace }, ok: 1 };
  }

  private readonly handlers: Record<string, Handler> = {
    hello: (context) => helloReply(context, "hello"),
    isMaster: (context) => helloReply(context, "isMaster"),
    ismaster: (context) => helloReply(context, "isMaster"),
    ping: () => ({ ok: 1 }),
    buildInfo: () => ({
      version: "7.0.0",
      versionArray: [7, 0, 0, 0],
      bits: 64,
      maxBsonObjectSize: 16 * 1024 * 1024,
      ok: 1,
    }),
    buildinfo: () => this.run("buildInfo", { db: "admin", body: {}, connectionId: 0 }),
    endSessions: () => ({ ok: 1 }),

    find: ({ db, body }) => {
      const name = collectionName(body, "find");
      const filter = documentField(body, "filter") ?? {};
      if (body.sort !== undefined && Object.keys(documentField(body, "sort") ?? {}).length > 0) {
        throw new CommandError(2, "BadValue", "sort is not supported by the test server");
      }
      const skip = Number(body.skip ?? 0);
      const limit = Math.abs(Number(body.limit ?? 0));
      const projection = documentField(body, "projection");
      const found: Document[] = [];
      let skipped = 0;
      for (const [, document] of this.scan(this.collection(db, name), filter)) {
        if (skipped++ < skip) continue;
        found.push(project(document, projection));
        if (limit > 0 && found.length >= limit) break;
      }
      const single = body.singleBatch === true || Number(body.limit ?? 0) < 0;
      return this.batch(`${db}.${name}`, found, Number(body.batchSize ?? 0), single, true);
    },

    getMore: ({ db, body }) => {
      const id = BigInt(String(body.getMore));
      const cursor = this.cursors.get(id);
      if (cursor === undefined) throw new CommandError(43, "CursorNotFound", `cursor id ${id} not found`);
      this.cursors.delete(id);
      return this.batch(
        cursor.namespace || `${db}.${String(body.collection)}`,
        cursor.remaining,
        Number(body.batchSize ?? 0),
        false,
        false,
      );
    },

    killCursors: ({ body }) => {
      const ids = Array.isArray(body.cursors) ? body.cursors : [];
      const killed = ids.filter((id) => this.cursors.delete(BigInt(String(id))));
      return {
        cursorsKilled: killed,
        cursorsNotFound: ids.filter((id) => !killed.includes(id)),
        cursorsAlive: [],
        cursorsUnknown: [],
        ok: 1,
      };
    },

    insert: ({ db, body }) => {
      const collection = this.collection(db, collectionName(body, "insert"), true)!;
      const documents = arrayField(body, "documents");
      const writeErrors: Document[] = [];
      let n = 0;
      for (const [index, document] of documents.entries()) {
        try {
          if (!isPlainObject(document)) throw new CommandError(2, "BadValue", "a document to insert must be an object");
          const stored = document._id === undefined ? { _id: new ObjectId(), ...document } : document;
          insertOne(collection, `${db}.${String(body.insert)}`, stored);
          n++;
        } catch (error) {
          writeErrors.push(writeError(index, error));
          if (body.ordered !== false) break;
        }
      }
      return writeResult({ n }, writeErrors);
    },

    update: ({ db, body }) => {
      const name = collectionName(body, "update");
      const namespace = `${db}.${name}`;
      const writeErrors: Document[] = [];
      const upserted: Document[] = [];
      let n = 0;
      let nModified = 0;
      for (const [index, statement] of arrayField(body, "updates").entries()) {
        try {
          if (!isPlainObject(statement) || !isPlainObject(statement.q))
            throw new CommandError(9, "FailedToParse", "an update statement needs q and u");
          const collection = this.collection(db, name, statement.upsert === true);
          const targets = [...this.scan(collection, statement.q)];
          if (statement.multi !== true) targets.splice(1);
          for (const [key, document] of targets) {
            const updated = applyUpdate(document, statement.u as Document, false);
            const bytes = serialize(updated);
            if (Buffer.compare(bytes, collection!.documents.get(key)!) !== 0) {
              collection!.documents.set(key, bytes);
              nModified++;
            }
            n++;
          }
          if (targets.length === 0 && statement.upsert === true) {
            const created = applyUpdate(seedFromFilter(statement.q), statement.u as Document, true);
            const stored = created._id === undefined ? { _id: new ObjectId(), ...created } : created;
            insertOne(collection!, namespace, stored);
            upserted.push({ index, _id: stored._id });
            n++;
          }
        } catch (error) {
          writeErrors.push(writeError(index, error));
          if (body.ordered !== false) break;
        }
      }
      return writeResult({ n, nModified, ...(upserted.length > 0 ? { upserted } : {}) }, writeErrors);
    },

    delete: ({ db, body }) => {
      const collection = this.collection(db, collectionName(body, "delete"));
      let n = 0;
      for (const statement of arrayField(body, "deletes")) {
        if (!isPlainObject(statement) || !isPlainObject(statement.q))
          throw new CommandError(9, "FailedToParse", "a delete statement needs q");
        for (const [key] of this.scan(collection, statement.q)) {
          collection!.documents.delete(key);
          n++;
          if (statement.limit === 1) break;
        }
      }
      return { n, ok: 1 };
    },

    createIndexes: ({ db, body }) => {
      const name = collectionName(body, "createIndexes");
      const created = this.collection(db, name) === undefined;
      const collection = this.collection(db, name, true)!;
      const before = collection.indexes.length + 1;
      for (const spec of arrayField(body, "indexes")) {
        if (!isPlainObject(spec) || !isPlainObject(spec.key) || typeof spec.name !== "string") {
          throw new CommandError(9, "FailedToParse", "an index spec needs key and name");
        }
        if (!collection.indexes.some((existing) => existing.name === spec.name))
          collection.indexes.push({ v: 2, ...spec });
      }
      return {
        numIndexesBefore: before,
        numIndexesAfter: collection.indexes.length + 1,
        createdCollectionAutomatically: created,
        ok: 1,
      };
    },

    listIndexes: ({ db, body }) => {
      const name = collectionName(body, "listIndexes");
      const collection = this.collection(db, name);
      if (collection === undefined) throw new CommandError(26, "NamespaceNotFound", `ns does not exist: ${db}.${name}`);
      const indexes = [{ v: 2, key: { _id: 1 }, name: "_id_" }, ...collection.indexes];
      return this.batch(`${db}.${name}`, indexes, Number(documentField(body, "cursor")?.batchSize ?? 0), false, true);
    },

    drop: ({ db, body }) => {
      const name = collectionName(body, "drop");
      const collection = this.collection(db, name);
      this.databases.get(db)?.delete(name);
      return collection === undefined
        ? { ok: 1 }
        : { nIndexesWas: collection.indexes.length + 1, ns: `${db}.${name}`, ok: 1 };
    },

    dropDatabase: ({ db }) => {
      this.databases.delete(db);
      return { dropped: db, ok: 1 };
    },
  };
}

function helloReply({ body, connectionId }: CommandContext, asked: "hello" | "isMaster"): Document {
  return {
    // A standalone mongod 7.0 (wire version 21). No topologyVersion: the driver's monitor then polls
    // (every heartbeatFrequencyMS) instead of holding a streaming hello open on this server.
    ...(asked === "hello" ? { isWritablePrimary: true } : { ismaster: true }),
    ...(body.helloOk === true ? { helloOk: true } : {}),
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId,
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
    ok: 1,
  };
}

function insertOne(collection: CollectionData, namespace: string, document: Document): void {
  const key = idKey(document._id);
  if (collection.documents.has(key)) {
    throw new CommandError(
      11000,
      "DuplicateKey",
      `E11000 duplicate key error collection: ${namespace} index: _id_ dup key: { _id: ${EJSON.stringify(document._id)} }`,
    );
  }
  collection.documents.set(key, serialize(document));
}

function writeError(index: number, error: unknown): Document {
  if (error instanceof CommandError)
    return { index, code: error.code, codeName: error.codeName, errmsg: error.message };
  throw error;
}

function writeResult(result: Document, writeErrors: Document[]): Document {
  return { ...result, ...(writeErrors.length > 0 ? { writeErrors } : {}), ok: 1 };
}

function collectionName(body: Document, command: string): string {
  const name = body[command];
  if (typeof name !== "string" || name === "")
    throw new CommandError(73, "InvalidNamespace", `${command} needs a collection name`);
  return name;
}

function documentField(body: Document, field: string): Document | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw new CommandError(14, "TypeMismatch", `${field} must be a document`);
  return value;
}

function arrayField(body: Document, field: string): unknown[] {
  const value = body[field];
  if (!Array.isArray(value)) throw new CommandError(9, "FailedToParse", `${field} must be an array`);
  return value;
}
