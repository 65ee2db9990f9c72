// #region postgres-node
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/postgres-adapter";
import pg from "pg";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { postgresStore, type PostgresStoreOptions } from "socket.io-session-auth/postgres";
import { createPushRouter } from "socket.io-session-auth/push";

/** One real-time node. Run as many as you like, all on the PostgreSQL that connect-pg-simple writes to. */
export function startPostgresNode(options: {
  connectionString: string;
  secret: string;
  pushTokens: string[];
  sessions?: Omit<PostgresStoreOptions, "pool">; // tableName, schemaName: as given to connect-pg-simple
}) {
  const pool = new pg.Pool({ connectionString: options.connectionString });
  pool.on("error", () => {}); // an idle connection died (a restart): the pool opens another when asked
  // @socket.io/postgres-adapter 0.5 holds its LISTEN connection with no 'error' listener of its own:
  // without this line, a PostgreSQL restart ends the process.
  pool.on("connect", (client) => client.on("error", () => {}));
  const http = createServer();
  // The adapter carries broadcasts, acks and fetchSockets to every node through NOTIFY (its own table,
  // socket_io_attachments, holds payloads over 8000 bytes: see its README).
  const io = new Server(http, { adapter: createAdapter(pool) });
  const store = postgresStore({ pool, ...options.sessions }); // the same pool: one LISTEN connection more
  const auth = sessionAuth({ store, secret: options.secret });
  auth.attach(io);
  const push = createPushRouter(io, { tokens: options.pushTokens, auth });
  push.attach(http);

  async function close(): Promise<void> {
    await push.close();
    await auth.close();
    await store.close?.(); // gives the LISTEN connection back
    await io.close();
    await pool.end();
  }
  return { http, io, auth, push, pool, close };
}
// #endregion postgres-node
