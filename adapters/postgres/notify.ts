import type { PgClientLike, Source } from "./driver.js";

/** The channel the trigger notifies on and the store listens to; one for every table, told apart by the payload. */
export const NOTIFY_CHANNEL = "socket_io_session_auth";
/** The trigger's name on the sessions table: the store looks for it when it starts listening. */
export const TRIGGER_NAME = "socket_io_session_auth_end";
const FUNCTION_NAME = "socket_io_session_auth_notify";

/** `"name"`, as PostgreSQL quotes an identifier (and as connect-pg-simple quotes its table and schema). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** connect-pg-simple's `quotedTable()`: `"schema"."table"`, or `"table"` (found through the search_path). */
export function quotedTable(tableName: string, schemaName: string | undefined): string {
  const table = quoteIdentifier(tableName);
  return schemaName === undefined ? table : `${quoteIdentifier(schemaName)}.${table}`;
}

/**
 * The SQL that makes PostgreSQL announce the end of a session, for `postgresStore`'s `subscribe`: one
 * function and one trigger on connect-pg-simple's table (default `"session"`), in one block to run once
 * (a migration, psql). Safe to run again (it replaces both).
 *
 * It notifies on `DELETE` of a session that was still live (connect-pg-simple's `destroy`: a logout),
 * with the reason `destroyed`, and on an `UPDATE` that moves a live session's `expire` into the past
 * (a web app that ends a session by setting its cookie's `maxAge` to 0), with `expired`. Pruning deletes
 * only sessions already past their `expire`, whose sockets the store's `expires` already ended: those
 * rows send nothing, so a prune of thousands of rows costs no notifications.
 *
 * The payload is JSON `{ schema, table, sid, reason }` (PostgreSQL's 8000-byte payload limit leaves room
 * for any session id), sent on the channel `socket_io_session_auth`, at commit.
 */
export function postgresTriggerSql(options: { tableName?: string; schemaName?: string } = {}): string {
  const table = quotedTable(options.tableName ?? "session", options.schemaName);
  const fn =
    options.schemaName === undefined ? FUNCTION_NAME : `${quoteIdentifier(options.schemaName)}.${FUNCTION_NAME}`;
  return `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.expire >= now() THEN
    PERFORM pg_notify('${NOTIFY_CHANNEL}', json_build_object('schema', TG_TABLE_SCHEMA,
      'table', TG_TABLE_NAME, 'sid', OLD.sid, 'reason', 'destroyed')::text);
  ELSIF TG_OP = 'UPDATE' AND NEW.expire < now() AND OLD.expire >= now() THEN
    PERFORM pg_notify('${NOTIFY_CHANNEL}', json_build_object('schema', TG_TABLE_SCHEMA,
      'table', TG_TABLE_NAME, 'sid', NEW.sid, 'reason', 'expired')::text);
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS ${TRIGGER_NAME} ON ${table};
CREATE TRIGGER ${TRIGGER_NAME} AFTER DELETE OR UPDATE OF expire ON ${table}
  FOR EACH ROW EXECUTE FUNCTION ${fn}();
`;
}

/**
 * Where the table is (its schema, resolved through the connection's search_path when the store was
 * given none) and whether the trigger is on it: one query, at each (re)start of the listening connection.
 */
const CHECK_SQL = `SELECT n.nspname AS schema, c.relname AS "table",
  EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = $2 AND t.tgenabled <> 'D') AS "trigger"
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`;

const RETRY_MS = [250, 1000, 5000, 15_000];

export interface Listening {
  /** Stops listening; resolves once the connection is given back (UNLISTEN first), so a pool.end() after it does not wait. */
  stop(): Promise<void>;
}

type Listener = (...args: unknown[]) => void;

/**
 * Holds one connection in `LISTEN socket_io_session_auth` and calls `onEnd` for each notification about
 * this store's table. From a pool, the connection is checked out for as long as the store listens (one
 * pool slot); when it drops (a restart, a failover) it is closed and another one LISTENs again, after
 * 0.25 s, 1 s, 5 s, then every 15 s. Ends sent while no connection listened are not replayed (NOTIFY
 * reaches only current listeners): the sessions' re-reads catch those. From a single client, LISTEN
 * runs on that client itself; a node-postgres Client never reconnects once its connection ends (so
 * neither do its lookups), which is why a Pool is the one to pass.
 *
 * `warn(message)` is called when the table or its trigger is missing (at each start; the caller warns once).
 */
export function listenForEnds(
  source: Source,
  table: { tableName: string; schemaName: string | undefined },
  onEnd: (id: string, reason: "destroyed" | "expired") => void,
  warn: (message: string) => void,
): Listening {
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let current: { client: PgClientLike; undo(): void } | undefined;
  const quoted = quotedTable(table.tableName, table.schemaName);
  let schema = table.schemaName;

  const deliver = (message: unknown): void => {
    const { channel, payload } = (message ?? {}) as { channel?: unknown; payload?: unknown };
    if (channel !== NOTIFY_CHANNEL || typeof payload !== "string") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    const { schema: from, table: name, sid, reason } = (parsed ?? {}) as Record<string, unknown>;
    if (name !== table.tableName || typeof sid !== "string") return;
    if (schema !== undefined && from !== schema) return;
    onEnd(sid, reason === "expired" ? "expired" : "destroyed");
  };

  const retry = (): void => {
    if (stopped) return;
    const delay = RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)];
    timer = setTimeout(() => void start(), delay);
    timer.unref();
  };

  const start = async (): Promise<void> => {
    timer = undefined;
    let client: PgClientLike;
    try {
      client = source.kind === "pool" ? await source.pool.connect() : source.client;
    } catch {
      return retry();
    }
    if (stopped) {
      if (source.kind === "pool") client.release?.();
      return;
    }
    let dropped = false;
    const onDrop: Listener = () => {
      if (dropped) return;
      dropped = true;
      current?.undo();
      current = undefined;
      // A dying connection may report more than once ('error', then 'end'): never to an EventEmitter with no listener.
      client.on?.("error", () => {});
      if (source.kind === "pool") client.release?.(true);
      retry();
    };
    const on = (event: string, listener: Listener): void => void client.on?.(event, listener);
    const off = (event: string, listener: Listener): void => {
      if (typeof client.off === "function") client.off(event, listener);
      else client.removeListener?.(event, listener);
    };
    on("notification", deliver);
    on("error", onDrop);
    on("end", onDrop);
    current = {
      client,
      undo: () => {
        off("notification", deliver);
        off("error", onDrop);
        off("end", onDrop);
      },
    };
    try {
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      // Stopped meanwhile: stop() has queued UNLISTEN and gives the connection back; send nothing more on it.
      if (stopped) return;
      const rows = (await client.query(CHECK_SQL, [quoted, TRIGGER_NAME])).rows;
      attempt = 0;
      const found = rows[0] as { schema?: unknown; trigger?: unknown } | undefined;
      if (found === undefined) {
        warn(
          `the table ${quoted} does not exist (yet) where the store's connection looks for it; sessions are read there, and ends are announced only by the trigger on it (postgresTriggerSql()).`,
        );
      } else {
        if (typeof found.schema === "string") schema = found.schema;
        if (found.trigger !== true)
          warn(
            `the table ${quoted} has no trigger ${TRIGGER_NAME}: run the SQL of postgresTriggerSql() (the docs' postgres page gives it) once, or a logout ends its sockets only at their next re-read.`,
          );
      }
    } catch {
      if (!dropped && !stopped) onDrop();
    }
  };

  void start();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      const held = current;
      current = undefined;
      if (held === undefined) return;
      held.undo();
      if (source.kind === "pool") {
        // Until UNLISTEN settles the connection is still ours: a drop meanwhile must not become an unhandled 'error'.
        held.client.on?.("error", () => {});
        // UNLISTEN before the connection goes back to the pool, where the next borrower would hear it.
        await held.client.query(`UNLISTEN ${NOTIFY_CHANNEL}`).then(
          () => held.client.release?.(),
          () => held.client.release?.(true),
        );
      } else {
        await held.client.query(`UNLISTEN ${NOTIFY_CHANNEL}`).then(undefined, () => {});
      }
    },
  };
}
