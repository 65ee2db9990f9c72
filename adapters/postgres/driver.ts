import { connect as tcpConnect } from "node:net";
import { abortable, describeGiven } from "socket.io-session-auth/adapter";

/** A query's answer as node-postgres gives it. */
export interface PgResultLike {
  rows: Array<Record<string, unknown>>;
  rowCount?: number | null;
}

/**
 * What the adapter needs of a node-postgres client (`pg.Client`, or a `pg.PoolClient` from
 * `pool.connect()`): `query(text, values)` returning a promise. `on` keeps a lost connection from
 * crashing the process; `processID` and `secretKey` let a timed-out query be cancelled on the server.
 */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<PgResultLike>;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener?(event: string, listener: (...args: unknown[]) => void): unknown;
  /** pg.PoolClient: gives the connection back to the pool; with a truthy argument, closes it instead. */
  release?(destroy?: boolean | Error): void;
}

/** What the adapter needs of a node-postgres `pg.Pool`: `connect()` (a client held for one query). */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
  query(text: string, values?: unknown[]): Promise<PgResultLike>;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener?(event: string, listener: (...args: unknown[]) => void): unknown;
}

interface Probe {
  connect?: unknown;
  query?: unknown;
  release?: unknown;
  totalCount?: unknown;
  idleCount?: unknown;
  connectionParameters?: unknown;
  raw?: unknown;
  client?: unknown;
  schema?: unknown;
  getQueryInterface?: unknown;
  authenticate?: unknown;
  any?: unknown;
  $pool?: unknown;
  $client?: unknown;
  unsafe?: unknown;
  begin?: unknown;
  $queryRaw?: unknown;
  createSession?: unknown;
  regenerate?: unknown;
  then?: unknown;
  connectionString?: unknown;
  host?: unknown;
}

/** A pool (a connection checked out per query) or a single client (queries share one connection). */
export type Source = { kind: "pool"; pool: PgPoolLike } | { kind: "client"; client: PgClientLike };

const WHAT_TO_PASS =
  "pass a node-postgres Pool (`new pg.Pool({ connectionString })`), best the one connect-pg-simple was given as `pool`";

/**
 * Tells a node-postgres Pool or Client from the other database objects an app holds, by what each
 * has (never by a version), and refuses the rest with a TypeError that says what to pass instead.
 */
export function sourceOf(value: unknown): Source {
  const probe = (typeof value === "object" || typeof value === "function") && value !== null ? (value as Probe) : {};
  const fn = (key: keyof Probe): boolean => typeof probe[key] === "function";
  let hint: string | undefined;
  if (typeof value === "string") {
    hint = "a connection string is not a pool: pass `new pg.Pool({ connectionString })`";
  } else if (fn("then")) {
    hint = "that is a promise: await it first";
  } else if (fn("raw") && probe.client !== undefined && probe.schema !== undefined) {
    hint =
      "that is a Knex instance, whose pool (tarn) hands out Knex's own connections: create a `new pg.Pool(...)` with the same connection settings";
  } else if (fn("getQueryInterface") && fn("authenticate")) {
    hint = "that is a Sequelize instance: create a `new pg.Pool(...)` with the same connection settings";
  } else if (fn("any") && typeof probe.$pool === "object" && probe.$pool !== null) {
    hint = "that is a pg-promise database: pass its node-postgres pool, `db.$pool`";
  } else if (typeof probe.$client === "object" && probe.$client !== null) {
    hint = "that looks like a Drizzle database: pass its node-postgres pool, `db.$client`";
  } else if (fn("$queryRaw")) {
    hint = "that is a Prisma client, which has no node-postgres pool: create a `new pg.Pool({ connectionString })`";
  } else if (fn("unsafe") && fn("begin")) {
    hint =
      "that is a postgres.js (`postgres()`) client, not node-postgres: create a `new pg.Pool({ connectionString })`";
  } else if (fn("createSession") && fn("regenerate")) {
    hint = "that is the web app's session store (connect-pg-simple's PGStore): pass the `pool` it was given";
  } else if (fn("connect") && fn("query")) {
    // A Pool counts its clients; a Client (pg.Client, a PoolClient) has none of that.
    if (typeof probe.totalCount === "number" || typeof probe.idleCount === "number")
      return { kind: "pool", pool: value as PgPoolLike };
    return { kind: "client", client: value as PgClientLike };
  } else if (fn("query") && fn("release")) {
    return { kind: "client", client: value as PgClientLike };
  } else if (
    typeof value === "object" &&
    value !== null &&
    (typeof probe.connectionString === "string" || typeof probe.host === "string")
  ) {
    hint = "that is a connection config, not a pool: pass `new pg.Pool(config)`";
  }
  const because = hint === undefined ? "" : ` (${hint})`;
  throw new TypeError(
    `postgresStore: \`pool\` must be a node-postgres Pool; got ${describeGiven(value)}${because}. ${WHAT_TO_PASS[0]!.toUpperCase()}${WHAT_TO_PASS.slice(1)}.`,
  );
}

/**
 * Runs one parameterized query (the values travel apart from the text: no SQL is built from an id) and
 * stops it on the server when `signal` aborts.
 *
 * From a pool, the query runs on a client checked out for it alone, so an abort can do two things
 * that really end the server's work: send PostgreSQL a CancelRequest for that backend (what libpq's
 * PQcancel does; closing the socket alone leaves a running statement running), and close that
 * connection rather than give it back, so a cancel that lands late can never hit a later query of
 * another user. A connection that failed (not a server-reported SQL error) is closed too. A pool that
 * hands over a client after the abort gets it straight back.
 */
export async function runQuery(
  source: Source,
  text: string,
  values: unknown[],
  signal: AbortSignal,
): Promise<PgResultLike> {
  signal.throwIfAborted();
  if (source.kind === "client") {
    // One connection shared by every lookup: node-postgres queues the queries, so a CancelRequest could
    // stop another handshake's query rather than this one. Only the waiting stops; pass a Pool to cancel.
    return abortable(Promise.resolve(source.client.query(text, values)), signal);
  }
  const checkout = Promise.resolve(source.pool.connect());
  let client: PgClientLike;
  try {
    client = await abortable(checkout, signal);
  } catch (error) {
    checkout.then(
      (late) => late.release?.(),
      () => {},
    );
    throw error;
  }
  let released = false;
  const release = (destroy: boolean): void => {
    if (released) return;
    released = true;
    client.release?.(destroy);
  };
  const onAbort = (): void => {
    cancelOnServer(client);
    release(true);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const result = await abortable(Promise.resolve(client.query(text, values)), signal);
    release(false);
    return result;
  } catch (error) {
    release(signal.aborted || !isServerError(error));
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** An error the server reported (pg's DatabaseError has a `severity`): the connection itself is fine. */
function isServerError(error: unknown): boolean {
  return typeof error === "object" && error !== null && typeof (error as { severity?: unknown }).severity === "string";
}

const CANCEL_REQUEST_CODE = 80877102; // PostgreSQL protocol: (1234 << 16) | 5678
const CANCEL_CONNECT_MS = 5000;

/**
 * Sends PostgreSQL's CancelRequest for the backend behind `client`, on a connection of its own, as the
 * protocol asks (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS).
 * Reads node-postgres's public client fields: `processID` and `secretKey` (the BackendKeyData the
 * server sent at connect), `host` and `port`. Best effort: the server answers nothing, and a client
 * without those fields (pg-native) is only disconnected by the caller.
 */
function cancelOnServer(client: PgClientLike): void {
  const { processID, secretKey, host, port } = client as { processID?: unknown; secretKey?: unknown } & {
    host?: unknown;
    port?: unknown;
  };
  if (!Number.isInteger(processID) || !Number.isInteger(secretKey)) return;
  if (typeof host !== "string" || !(typeof port === "number" || typeof port === "string")) return;
  const request = Buffer.alloc(16);
  request.writeInt32BE(16, 0);
  request.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  request.writeInt32BE(processID as number, 8);
  request.writeInt32BE(secretKey as number, 12);
  const socket = host.startsWith("/") ? tcpConnect(`${host}/.s.PGSQL.${port}`) : tcpConnect(Number(port), host);
  socket.on("error", () => {});
  socket.setTimeout(CANCEL_CONNECT_MS, () => socket.destroy());
  socket.on("connect", () => socket.end(request));
}

type Listener = (...args: unknown[]) => void;

interface Guard {
  users: number;
  release(): void;
}

const guards = new WeakMap<object, Guard>();

/**
 * One 'error' listener per pool or client, however many stores share it: node-postgres emits 'error'
 * on the pool when an idle connection dies (a restart, a failover) and on a client whose connection
 * drops, and an EventEmitter with no listener throws it, ending the process. Each lookup meanwhile
 * fails on its own and is refused STORE_UNAVAILABLE; the pool opens new connections when asked.
 */
export function guardErrors(target: object): Guard {
  const existing = guards.get(target);
  if (existing !== undefined) {
    existing.users++;
    return existing;
  }
  const emitter = target as { on?: unknown; off?: unknown; removeListener?: unknown };
  const onError: Listener = () => {};
  const guard: Guard = {
    users: 1,
    release() {
      if (--guard.users > 0) return;
      guards.delete(target);
      const off = typeof emitter.off === "function" ? emitter.off : emitter.removeListener;
      if (typeof off === "function")
        (off as (event: string, listener: Listener) => unknown).call(target, "error", onError);
    },
  };
  if (typeof emitter.on === "function")
    (emitter.on as (event: string, listener: Listener) => unknown).call(target, "error", onError);
  guards.set(target, guard);
  return guard;
}
