import {
  describeValue,
  emitWarning,
  readSession,
  rejectUnknownOptions,
  type SessionData,
  type SessionRecord,
  type SessionStore,
} from "socket.io-session-auth/adapter";
import { guardErrors, runQuery, sourceOf, type PgClientLike, type PgPoolLike } from "./driver.js";
import { listenForEnds, quotedTable, type Listening } from "./notify.js";

export type { PgClientLike, PgPoolLike, PgResultLike } from "./driver.js";
export { NOTIFY_CHANNEL, TRIGGER_NAME, postgresTriggerSql } from "./notify.js";

export interface PostgresStoreOptions {
  /**
   * A node-postgres `pg.Pool` (v8), best the very pool connect-pg-simple was given as `pool`. Each lookup
   * checks a client out for its one query, so a timed-out query can be cancelled on the server. A
   * `pg.Client` works too while its one connection lives (it never reconnects: pass a Pool). The store
   * never connects or ends it.
   */
  pool: PgPoolLike | PgClientLike;
  /** connect-pg-simple's `tableName` (default `"session"`), quoted as it quotes it: case and all. */
  tableName?: string;
  /** connect-pg-simple's `schemaName` (default: none, the table is found through the search_path). */
  schemaName?: string;
  /**
   * Whether the store has `subscribe` (default true): one connection held in `LISTEN` for the
   * notifications of the trigger `postgresTriggerSql()` gives, so a logout ends its sockets at once, on
   * every node. When the trigger is missing the store warns once (and the sessions' re-reads still end
   * them). `false`: no held connection, no `subscribe`.
   */
  listen?: boolean;
}

const DEFAULT_TABLE = "session"; // connect-pg-simple's default tableName
const MAX_IDENTIFIER_BYTES = 63; // NAMEDATALEN - 1: PostgreSQL cuts longer names
const KNOWN_OPTIONS = new Set(["pool", "tableName", "schemaName", "listen"]);
const HINTS: Record<string, string> = {
  conString: "create `new pg.Pool({ connectionString })` and pass it as `pool`",
  conObject: "create `new pg.Pool(conObject)` and pass it as `pool`",
  pgPromise: "pass its node-postgres pool as `pool: db.$pool`",
  client: "pass it as `pool` (a pg.Pool is best: a pg.Client never reconnects)",
  ttl: "the store only reads: connect-pg-simple's `ttl` is already in each row's `expire`",
  pruneSessionInterval: "pruning is connect-pg-simple's work; the store filters on `expire` itself",
  createTableIfMissing: "the store never creates the table: connect-pg-simple (or your migration) does",
  disableTouch: "the store never touches a session: remove it",
  table: "did you mean `tableName`?",
  schema: "did you mean `schemaName`?",
};

/** A warning code beside the library's others (SOCKET_IO_SESSION_AUTH_...), for `process.on("warning")` filters. */

/**
 * Reads the sessions that connect-pg-simple (v7 to v10) writes: rows `(sid varchar, sess json,
 * expire timestamp)` in `"session"` or the `tableName` / `schemaName` given to it.
 *
 * One parameterized `SELECT` by `sid` per lookup (the primary key), on a client checked out of the pool
 * for it. `expire` is the truth about expiry (connect-pg-simple's touch updates only it; the session's
 * own `cookie.expires` goes stale) and is reported as the record's `expires`, never filtered away: a row
 * past its `expire` that pruning (every 15 minutes by default) has not deleted yet is refused as
 * `SESSION_EXPIRED`, and a live one ends its sockets when it lapses. `expire` is a `timestamp` without
 * time zone that connect-pg-simple writes and compares in the connection's `TimeZone`; the store reads it
 * in its own connection's, so both sides need the same setting (the server's default unless an app
 * changes it).
 *
 * When the handshake's `signal` aborts (the `sessionAuth` `timeout` passed) the query is cancelled on the
 * server (a protocol CancelRequest) and its connection closed, so a slow or locked table never piles
 * up work behind refused handshakes (from a Pool; a single `pg.Client`'s queries share one connection,
 * so there the store only stops waiting). A database that is down fails the pool's connect at once:
 * `STORE_UNAVAILABLE`, and the pool connects again by itself when it is back.
 *
 * Each record carries the stored JSON text as its `revision`. `compareAndSet` is one conditional
 * `UPDATE ... SET sess = $3 WHERE sid = $1 AND sess::text = $2` that also requires connect-pg-simple's
 * own liveness (`expire >= now`), writes the session serialized as connect-pg-simple serializes it
 * (node-postgres's `JSON.stringify` of the object), and leaves `expire` as it was.
 *
 * `subscribe` (unless `listen: false`): see {@link PostgresStoreOptions.listen} and `postgresTriggerSql`.
 *
 * Throws a `TypeError` naming the option when the options are wrong: a table or schema name that is not
 * a nonempty string of at most 63 bytes without NUL, or a `pool` that is not node-postgres (a Knex or
 * Sequelize instance, a pg-promise database, a connection string, connect-pg-simple's store, a promise).
 */
export function postgresStore<S extends object = SessionData>(options: PostgresStoreOptions): SessionStore<S> {
  const { source, tableName, schemaName, listen } = validate(options);
  const table = quotedTable(tableName, schemaName);
  // The identifiers were validated and quoted once, here; ids and sessions only ever travel as parameters.
  const select = `SELECT sess::text AS sess, (extract(epoch FROM expire::timestamptz) * 1000)::float8 AS expire FROM ${table} WHERE sid = $1`;
  const update = `UPDATE ${table} SET sess = $3 WHERE sid = $1 AND sess::text = $2 AND expire >= to_timestamp($4)`;
  const explain = (error: unknown): never => {
    throw misconfiguration(error, table) ?? error;
  };
  const guard = guardErrors(source.kind === "pool" ? source.pool : source.client);
  let closed = false;

  const store: SessionStore<S> = {
    name: "postgres",
    // For the SESSION_NOT_FOUND diagnosis (issue 18 item 9): a wrong tableName or schemaName reads as one.
    where: `table ${table}${schemaName === undefined ? " on the search_path" : ""}`,
    async get(id, { signal, report }): Promise<SessionRecord<S> | null> {
      // PostgreSQL text cannot hold NUL, so no session has such an id (and sending one is a server error).
      if (id.includes("\0")) return null;
      const { rows } = await runQuery(source, select, [id], signal).catch(explain);
      const row = rows[0];
      if (row === undefined) return null;
      const { sess, expire } = row as { sess?: unknown; expire?: unknown };
      if (typeof expire !== "number" || !Number.isFinite(expire)) {
        // connect-pg-simple's own query (`expire >= to_timestamp(now)`) never matches a NULL expire.
        report(new TypeError(`the session row's \`expire\` is ${describeValue(expire)}, not a timestamp`));
        return null;
      }
      if (typeof sess !== "string") {
        report(new TypeError(`the session row's \`sess\` is ${describeValue(sess)}, not JSON`));
        return null;
      }
      const session = await readSession<S>(sess, report, { what: "the `sess` column" });
      return session === null ? null : { session, expires: new Date(expire), revision: sess };
    },
    async compareAndSet(id, revision, session, { signal }): Promise<boolean> {
      if (typeof revision !== "string") {
        throw new TypeError(
          `postgresStore.compareAndSet: the revision must be the stored text a record carried; got ${describeValue(revision)}`,
        );
      }
      if (id.includes("\0")) return false;
      // connect-pg-simple hands node-postgres the session object, which sends JSON.stringify of it.
      const text = JSON.stringify(session);
      const now = Math.ceil(Date.now() / 1000); // connect-pg-simple's currentTimestamp()
      const result = await runQuery(source, update, [id, revision, text, now], signal).catch(explain);
      if (typeof result.rowCount !== "number")
        throw new TypeError(`the client answered an UPDATE with ${describeValue(result.rowCount)} as its rowCount`);
      return result.rowCount === 1;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const stopping = listening?.stop();
      listening = undefined;
      callbacks.clear();
      guard.release();
      await stopping;
    },
  };

  const callbacks = new Set<(id: string, reason?: "destroyed" | "expired") => void>();
  let listening: Listening | undefined;
  if (listen) {
    let warned = false;
    const warn = (message: string): void => {
      if (warned) return;
      warned = true;
      emitWarning("POSTGRES_NOTIFY", `socket.io-session-auth: postgresStore: ${message}`);
    };
    store.subscribe = (onDestroyed) => {
      const callback = (id: string, reason?: "destroyed" | "expired"): void => onDestroyed(id, reason);
      callbacks.add(callback);
      if (listening === undefined && !closed) {
        listening = listenForEnds(
          source,
          { tableName, schemaName },
          (id, reason) => {
            for (const each of [...callbacks]) {
              try {
                each(id, reason);
              } catch {
                // One subscriber's failure must not keep the others from hearing of the end.
              }
            }
          },
          warn,
        );
      }
      return () => {
        callbacks.delete(callback);
        if (callbacks.size === 0) {
          void listening?.stop();
          listening = undefined;
        }
      };
    };
  }
  return store;
}

/**
 * What the server answered about the table itself (SQLSTATE: 42P01 undefined_table, 3F000
 * invalid_schema_name, 42703 undefined_column, 42501 insufficient_privilege) as a TypeError: a wrong
 * `tableName` / `schemaName` or a missing grant is a misconfiguration that no retry fixes, and the core
 * says so rather than calling it an outage. The server's message names only the table and column.
 */
function misconfiguration(error: unknown, table: string): TypeError | undefined {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  const why = typeof code === "string" ? MISCONFIGURED[code] : undefined;
  if (why === undefined) return undefined;
  return new TypeError(
    `postgresStore: ${why} (SQLSTATE ${String(code)}, table ${table}): pass the tableName and schemaName connect-pg-simple was given, and let the store's role read (and, for update, write) the table.`,
    { cause: error },
  );
}

const MISCONFIGURED: Record<string, string> = {
  "42P01": "the table does not exist",
  "3F000": "the schema does not exist",
  "42703": "the table lacks connect-pg-simple's columns (sid, sess, expire)",
  "42501": "the store's role may not use the table",
};

function validate(options: PostgresStoreOptions) {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("postgresStore: pass an options object, e.g. postgresStore({ pool }).");
  }
  rejectUnknownOptions("postgresStore", options, KNOWN_OPTIONS, { notes: HINTS });
  const { pool, tableName = DEFAULT_TABLE, schemaName, listen = true } = options;
  if (pool === undefined) {
    throw new TypeError(
      "postgresStore: `pool` is required: pass the node-postgres Pool connect-pg-simple was given (`new pg.Pool({ connectionString })`).",
    );
  }
  const source = sourceOf(pool);
  checkIdentifier("tableName", tableName, `connect-pg-simple's tableName; default "${DEFAULT_TABLE}"`);
  if (schemaName !== undefined) checkIdentifier("schemaName", schemaName, "connect-pg-simple's schemaName");
  if (schemaName === undefined && tableName.includes('"."')) {
    throw new TypeError(
      'postgresStore: `tableName` holds a schema ("schema"."table", connect-pg-simple\'s deprecated form): pass `schemaName` and `tableName` apart.',
    );
  }
  if (typeof listen !== "boolean") {
    throw new TypeError(
      `postgresStore: \`listen\` must be true or false (default true); got ${describeValue(listen)}.`,
    );
  }
  return { source, tableName, schemaName, listen };
}

/** A name PostgreSQL keeps as given once quoted: a nonempty string, no NUL, at most 63 bytes. */
function checkIdentifier(option: string, value: unknown, what: string): asserts value is string {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(
      `postgresStore: \`${option}\` must be a nonempty string (${what}); got ${describeValue(value)}.`,
    );
  }
  if (value.includes("\0")) {
    throw new TypeError(`postgresStore: \`${option}\` must not contain a NUL character (${what}).`);
  }
  if (Buffer.byteLength(value, "utf8") > MAX_IDENTIFIER_BYTES) {
    throw new TypeError(
      `postgresStore: \`${option}\` is longer than ${MAX_IDENTIFIER_BYTES} bytes, which PostgreSQL would cut (${what}).`,
    );
  }
}
