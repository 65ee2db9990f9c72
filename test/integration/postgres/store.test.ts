import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import connectPgSimple from "connect-pg-simple";
import session, { type SessionData as ExpressSessionData } from "express-session";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionRoom, type SessionAuthOptions, type SessionStore } from "socket.io-session-auth";
import { postgresStore, postgresTriggerSql, type PostgresStoreOptions } from "socket.io-session-auth/postgres";
import { describeSessionStore } from "socket.io-session-auth/testing";
import { eventually } from "../../support/eventually.js";
import { postgresAvailable, startPostgresServer, type PostgresServer } from "../../support/postgres-server.js";
import { ask, connect, refusal, type ClientOptions, startWhoamiServer } from "../../support/realtime.js";
import { sessionIdOf, startWebApp } from "../../support/web-app.js";

// postgresStore against a real PostgreSQL: express-session + connect-pg-simple write the sessions (its
// own table.sql), the adapter reads them over node-postgres as a role of its own ("realtime"), so
// pg_stat_statements can count exactly what it sends.

const SECRET = "keyboard cat";
const available = postgresAvailable();
const PgStore = connectPgSimple(session);
const TABLE_SQL = readFileSync(createRequire(import.meta.url).resolve("connect-pg-simple/table.sql"), "utf8");
const TRANSPORTS = [
  ["websocket only", { transports: ["websocket"] }],
  ["polling, then upgrade", { transports: ["polling", "websocket"] }],
] satisfies Array<[string, ClientOptions]>;

describe.skipIf(!available)("postgresStore against a real PostgreSQL", () => {
  let server: PostgresServer;
  let writer: pg.Pool;
  let web: connectPgSimple.PGStore;
  const perTest: Array<() => unknown> = [];

  beforeAll(async () => {
    server = await startPostgresServer();
    await server.query(TABLE_SQL);
    await server.query("CREATE SCHEMA app; CREATE ROLE realtime LOGIN SUPERUSER");
    await server.query(TABLE_SQL.replaceAll('"session"', 'app."Web ""Sessions"""'));
    await server.query(postgresTriggerSql());
    writer = new pg.Pool(server.config);
    writer.on("error", () => {}); // the web app's pool: an idle connection dies when the server stops
    web = new PgStore({ pool: writer, pruneSessionInterval: false });
  });
  afterEach(async () => {
    for (const close of perTest.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    await writer?.end();
    await server?.destroy();
  });

  /** The realtime side's pool: its own role, and no 'error' listener of ours (the store must keep outages in). */
  function readerPool(options: pg.PoolConfig = {}): pg.Pool {
    const pool = new pg.Pool({ ...server.config, user: "realtime", ...options });
    perTest.push(() => pool.end());
    return pool;
  }

  function store(options: Partial<PostgresStoreOptions> = {}): SessionStore {
    const made = postgresStore({ pool: readerPool(), listen: false, ...options });
    perTest.push(() => made.close?.());
    return made;
  }

  async function webApp(options: Parameters<typeof startWebApp>[0] = {}) {
    const app = await startWebApp({ store: web, secret: SECRET, ...options });
    perTest.push(() => app.close());
    return app;
  }

  async function realtime(reader: SessionStore, options: Partial<SessionAuthOptions> = {}) {
    const server = await startWhoamiServer({ store: reader, secret: SECRET, ...options });
    perTest.push(() => server.close());
    return { url: server.url, errors: server.errors };
  }

  /** What the realtime role sent since the last reset, as pg_stat_statements counts it. */
  async function statements(): Promise<Array<{ query: string; calls: number }>> {
    const rows = await server.query<{ query: string; calls: string }>(
      "SELECT query, calls FROM pg_stat_statements WHERE userid = 'realtime'::regrole ORDER BY query",
    );
    return rows.map((row) => ({ query: row.query, calls: Number(row.calls) }));
  }

  it.each(TRANSPORTS)("connects a logged-in user (%s) with one parameterized SELECT", async (_label, transport) => {
    const app = await webApp();
    const { url, errors } = await realtime(store());
    const cookie = await app.login({ id: 42, name: "alice" });
    await server.query("SELECT pg_stat_statements_reset()");
    const socket = await connect(url, { cookie, ...transport });
    perTest.push(() => socket.close());
    expect(await ask(socket, "whoami")).toEqual({
      userId: "42",
      user: { id: 42, name: "alice" },
      rooms: expect.arrayContaining(["user:42", sessionRoom(sessionIdOf(cookie))]),
    });
    const sent = await statements();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.calls).toBe(1);
    expect(sent[0]!.query).toMatch(/^SELECT sess::text .* FROM "session" WHERE sid = \$1$/);
    expect(errors).toEqual([]);
  });

  it("refuses after logout (connect-pg-simple's destroy) with SESSION_NOT_FOUND", async () => {
    const app = await webApp();
    const { url, errors } = await realtime(store());
    const cookie = await app.login({ id: 7 });
    (await connect(url, { cookie })).close();
    await app.logout(cookie);
    expect(await refusal(url, { cookie })).toMatchObject({
      message: "SESSION_NOT_FOUND",
      data: { code: "SESSION_NOT_FOUND", retryable: false },
    });
    expect(errors.map((e) => e.code)).toEqual(["SESSION_NOT_FOUND"]);
    expect(errors[0]!.message).not.toContain(sessionIdOf(cookie));
  });

  it("reads a custom schema and table name (quotes, case and spaces kept), and only with the same names, which a miss names", async () => {
    const custom = new PgStore({
      pool: writer,
      schemaName: "app",
      tableName: 'Web "Sessions"',
      pruneSessionInterval: false,
    });
    const app = await webApp({ store: custom });
    const cookie = await app.login({ id: 3 });
    const rows = await server.query('SELECT sid FROM app."Web ""Sessions""" WHERE sid = $1', [sessionIdOf(cookie)]);
    expect(rows).toHaveLength(1);
    const right = await realtime(store({ schemaName: "app", tableName: 'Web "Sessions"' }));
    const socket = await connect(right.url, { cookie });
    perTest.push(() => socket.close());
    expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("3");
    // The default table holds no such session, and the diagnosis names the table and the cookie looked
    // up, never the id (issue 18 item 9).
    const wrong = await realtime(store());
    expect((await refusal(wrong.url, { cookie })).message).toBe("SESSION_NOT_FOUND");
    const [diagnosis] = wrong.errors;
    expect(diagnosis!.message).toContain('in store "postgres" (table "session" on the search_path)');
    expect(diagnosis!.message).toContain('cookie "connect.sid"');
    expect(diagnosis!.message).not.toContain(sessionIdOf(cookie));
    expect(store({ schemaName: "app", tableName: 'Web "Sessions"' }).where).toBe('table "app"."Web ""Sessions"""');
  });

  it("a table that does not exist is a misconfiguration (not retryable), said with the table's name", async () => {
    const app = await webApp();
    const cookie = await app.login({ id: 4 });
    const { url, errors } = await realtime(store({ tableName: "sessions" }));
    expect(await refusal(url, { cookie })).toMatchObject({ data: { code: "STORE_UNAVAILABLE", retryable: false } });
    expect(errors[0]!.cause).toBeInstanceOf(TypeError);
    expect((errors[0]!.cause as Error).message).toContain(
      'the table does not exist (SQLSTATE 42P01, table "sessions")',
    );
  });

  it("an expired row that pruning has not deleted yet is refused with SESSION_EXPIRED, from `expire`", async () => {
    const app = await webApp({ maxAge: 1000 });
    const { url, errors } = await realtime(store());
    const cookie = await app.login({ id: 5 });
    await server.query("UPDATE session SET expire = now() - interval '1 second' WHERE sid = $1", [sessionIdOf(cookie)]);
    expect((await refusal(url, { cookie })).message).toBe("SESSION_EXPIRED");
    expect(errors.map((e) => e.code)).toEqual(["SESSION_EXPIRED"]);
  });

  it("`expire` decides, not the stale cookie.expires: touch moved it, and the session is live", async () => {
    const app = await webApp();
    const reader = store();
    const cookie = await app.login({ id: 6 });
    const id = sessionIdOf(cookie);
    // connect-pg-simple's touch() rewrites only `expire`: make the stored cookie.expires say "past".
    await server.query(
      `UPDATE session SET sess = jsonb_set(sess::jsonb, '{cookie,expires}', to_jsonb('2001-01-01T00:00:00.000Z'::text))::json WHERE sid = $1`,
      [id],
    );
    const expire = (
      await server.query<{ ms: number }>(
        "SELECT (extract(epoch FROM expire::timestamptz) * 1000)::float8 AS ms FROM session WHERE sid = $1",
        [id],
      )
    )[0]!.ms;
    const record = await reader.get(id, { signal: new AbortController().signal, report: () => {} });
    expect(record!.expires!.getTime()).toBe(expire);
    const { url } = await realtime(reader);
    (await connect(url, { cookie })).close();
  });

  it.each([
    ["not JSON", `'{"user":'`, SyntaxError],
    ["JSON that is not an object", `'[1,2,3]'`, TypeError],
  ])("a corrupt sess (%s): SESSION_NOT_FOUND, with the cause reaching onError", async (_label, value, kind) => {
    const app = await webApp();
    const { url, errors } = await realtime(store());
    const cookie = await app.login({ id: 9 });
    // A json column refuses bad JSON: the corrupt text goes in through a text column of a table of its own.
    if (kind === SyntaxError) {
      await server.query("CREATE TABLE IF NOT EXISTS loose (sid varchar PRIMARY KEY, sess text, expire timestamp)");
      await server.query(`INSERT INTO loose VALUES ($1, ${value}, now() + interval '1 hour')`, [sessionIdOf(cookie)]);
    } else {
      await server.query(`UPDATE session SET sess = ${value} WHERE sid = $1`, [sessionIdOf(cookie)]);
    }
    const target = kind === SyntaxError ? await realtime(store({ tableName: "loose" })) : { url, errors };
    expect(await refusal(target.url, { cookie })).toMatchObject({
      data: { code: "SESSION_NOT_FOUND", retryable: false },
    });
    expect(target.errors).toHaveLength(1);
    expect(target.errors[0]!.cause).toBeInstanceOf(kind);
    expect(target.errors[0]!.message).not.toContain(sessionIdOf(cookie));
  });

  it("the timeout cancels the query on the server (pg_sleep), and the pool keeps working", async () => {
    await server.query(
      'CREATE OR REPLACE VIEW slow_session AS SELECT s.sid, s.sess, s.expire FROM "session" s, pg_sleep(30) z',
    );
    const app = await webApp();
    const cookie = await app.login({ id: 10 });
    const pool = readerPool({ max: 2 });
    const slow = postgresStore({ pool, tableName: "slow_session", listen: false });
    const { url, errors } = await realtime(slow, { timeout: 800 });
    const started = performance.now();
    expect((await refusal(url, { cookie })).message).toBe("STORE_UNAVAILABLE");
    expect(performance.now() - started).toBeLessThan(800 + 1500);
    expect(errors[0]!.message).toContain("did not answer within 800 ms");
    // The statement stops on the server: no backend is still sleeping in it.
    await eventually(async () => {
      const running = await server.query(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%slow_session%' AND pid <> pg_backend_pid()",
      );
      expect(running).toEqual([]);
    }, 3000);
    // Three more timeouts on a pool of two: no connection is left stuck behind a cancelled query.
    for (let i = 0; i < 3; i++) expect((await refusal(url, { cookie })).message).toBe("STORE_UNAVAILABLE");
    const fast = await realtime(postgresStore({ pool, listen: false }));
    const socket = await connect(fast.url, { cookie });
    perTest.push(() => socket.close());
    expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("10");
  });

  it("refuses STORE_UNAVAILABLE fast while PostgreSQL is down, and recovers by itself when it is back", async () => {
    const escaped: unknown[] = [];
    const onEscape = (reason: unknown) => void escaped.push(reason);
    process.on("unhandledRejection", onEscape);
    process.on("uncaughtException", onEscape);
    try {
      const app = await webApp();
      const pool = readerPool();
      const { url, errors } = await realtime(postgresStore({ pool, listen: false }), { timeout: 1500 });
      const cookie = await app.login({ id: 11 });
      (await connect(url, { cookie })).close(); // the pool now holds an idle connection, which the stop kills
      await server.stop();
      for (const [, transport] of [...TRANSPORTS, ...TRANSPORTS]) {
        const started = performance.now();
        expect(await refusal(url, { cookie, ...transport })).toMatchObject({
          data: { code: "STORE_UNAVAILABLE", retryable: true },
        });
        expect(performance.now() - started).toBeLessThan(1000); // connection refused, not the timeout
      }
      expect(errors.every((e) => e.code === "STORE_UNAVAILABLE")).toBe(true);
      await server.start(); // the same data: the session is still there
      const socket = await eventually(() => connect(url, { cookie }), 10_000);
      perTest.push(() => socket.close());
      expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("11");
      await new Promise((resolve) => setImmediate(resolve));
      expect(escaped).toEqual([]);
    } finally {
      process.off("unhandledRejection", onEscape);
      process.off("uncaughtException", onEscape);
      await server.start().catch(() => {});
    }
  });

  it("compareAndSet writes the very text connect-pg-simple writes, keeps expire, and connect-pg-simple reads it", async () => {
    const app = await webApp();
    const reader = store();
    const id = sessionIdOf(await app.login({ id: 13 }));
    const options = { signal: new AbortController().signal, report: () => {} };
    const expireOf = async (sid: string) =>
      (await server.query<{ expire: string }>("SELECT expire::text AS expire FROM session WHERE sid = $1", [sid]))[0]!
        .expire;
    const before = await expireOf(id);
    const record = await reader.get(id, options);
    const changed = { ...(record!.session as object), cart: ["book", "ünï\u2028☃"], n: 1.5 };
    expect(await reader.compareAndSet!(id, record!.revision, changed, { signal: options.signal })).toBe(true);
    expect(await expireOf(id)).toBe(before);
    await setWith(web, `${id}-theirs`, changed as unknown as ExpressSessionData);
    const texts = await server.query<{ sid: string; sess: string }>(
      "SELECT sid, sess::text AS sess FROM session WHERE sid = $1 OR sid = $2 ORDER BY sid",
      [id, `${id}-theirs`],
    );
    expect(texts[0]!.sess).toBe(texts[1]!.sess);
    const read = await new Promise((resolve, reject) =>
      web.get(id, (err, data) => (err ? reject(err as Error) : resolve(data))),
    );
    expect(read).toEqual(changed);
  });

  it("an id with a NUL (which PostgreSQL text cannot hold) is no session, not an outage", async () => {
    const reader = store();
    const options = { signal: new AbortController().signal, report: () => {} };
    expect(await reader.get("abc\0def", options)).toBeNull();
    expect(await reader.compareAndSet!("abc\0def", "{}", {}, { signal: options.signal })).toBe(false);
  });

  it("a pg.Client works as the pool while its connection lives", async () => {
    const client = new pg.Client({ ...server.config, user: "realtime" });
    await client.connect();
    perTest.push(() => client.end());
    const app = await webApp();
    const cookie = await app.login({ id: 12 });
    const { url } = await realtime(postgresStore({ pool: client, listen: false }));
    const socket = await connect(url, { cookie });
    perTest.push(() => socket.close());
    expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("12");
  });

  describeSessionStore(
    "postgres, sessions written by connect-pg-simple",
    async () => {
      const pool = new pg.Pool({ ...server.config, user: "realtime" });
      let ended = false;
      const end = async () => {
        if (ended) return;
        ended = true;
        await pool.end();
      };
      const store = postgresStore<Record<string, unknown>>({ pool });
      await untilListening(
        store,
        (id) => setWith(web, id, asWritten({}, undefined)),
        (id) => destroyWith(web, id),
      );
      return {
        store,
        write: (id, data, options) => setWith(web, id, asWritten(data, options?.expires)),
        writeCorrupt: async (id) =>
          void (await server.query(`INSERT INTO session VALUES ($1, '"just a string"', now() + interval '1 hour')`, [
            id,
          ])),
        remove: (id) => destroyWith(web, id),
        // Not awaited: pool.end() waits for the connection the store holds in LISTEN until close() gives it back.
        breakStore: async () => void end(),
        teardown: end,
      };
    },
    { capabilities: { subscribe: true, expiry: "record", expires: true, compareAndSet: true } },
  );
});

/**
 * LISTEN starts asynchronously: a subscription of the harness's own, kept for the test, is what the
 * suite's subscribe() shares, and this waits until a probe session's destroy reaches it.
 */
async function untilListening(
  store: SessionStore<Record<string, unknown>>,
  write: (id: string) => Promise<void>,
  remove: (id: string) => Promise<void>,
): Promise<void> {
  const seen = new Set<string>();
  store.subscribe!((id) => void seen.add(id));
  await eventually(async () => {
    const probe = `probe-${Math.random().toString(36).slice(2)}`;
    await write(probe);
    await remove(probe);
    const deadline = Date.now() + 300;
    while (!seen.has(probe) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    if (!seen.has(probe)) throw new Error("not listening yet");
  }, 10_000);
}

/** connect-pg-simple takes `expire` from cookie.expires: that is how a session "ends" in its format. */
function asWritten(data: object, expires: Date | undefined): ExpressSessionData {
  if (expires === undefined) return data as ExpressSessionData;
  const cookie = (data as { cookie?: object }).cookie ?? {};
  return { ...data, cookie: { ...cookie, expires: expires.toISOString() } } as unknown as ExpressSessionData;
}

const setWith = (store: connectPgSimple.PGStore, id: string, data: ExpressSessionData) =>
  new Promise<void>((resolve, reject) => store.set(id, data, (err) => (err ? reject(err as Error) : resolve())));
const destroyWith = (store: connectPgSimple.PGStore, id: string) =>
  new Promise<void>((resolve, reject) => store.destroy(id, (err) => (err ? reject(err as Error) : resolve())));
