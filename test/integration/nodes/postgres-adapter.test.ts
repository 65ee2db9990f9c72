import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import connectPgSimple from "connect-pg-simple";
import session from "express-session";
import pg from "pg";
import type { Server } from "socket.io";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SessionAuth } from "socket.io-session-auth";
import { postgresTriggerSql, type PostgresStoreOptions } from "socket.io-session-auth/postgres";
import type { PushRouter } from "socket.io-session-auth/push";
import { createPushClient } from "socket.io-session-auth/push-client";
import { startPostgresNode } from "../../../docs/examples/postgres-node.js";
import { eventually } from "../../support/eventually.js";
import { listen, untilServerCount } from "../../support/nodes.js";
import { postgresAvailable, startPostgresServer, type PostgresServer } from "../../support/postgres-server.js";
import { ask, connect, ending, serveLifecycle } from "../../support/realtime.js";
import { sessionIdOf, startWebApp, type WebApp } from "../../support/web-app.js";

// Sessions and nodes on one PostgreSQL: express-session + connect-pg-simple write the sessions, two
// socket.io nodes on @socket.io/postgres-adapter (docs/examples/postgres-node.ts) read them through postgresStore, which listens for the
// trigger's NOTIFY. The push router's counts and acks, endSession / endUser, logouts ending sockets at
// once, update() from sockets on both nodes, and all of it again after PostgreSQL restarts.

const SECRET = "keyboard cat";
const TOKEN = "postgres-nodes-token-0123456789";
const available = postgresAvailable();
const PgStore = connectPgSimple(session);
const TABLE_SQL = readFileSync(createRequire(import.meta.url).resolve("connect-pg-simple/table.sql"), "utf8");
// @socket.io/postgres-adapter's table for payloads over NOTIFY's 8000 bytes (its README).
const ATTACHMENTS_SQL =
  "CREATE TABLE socket_io_attachments (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)";

interface Node {
  url: string;
  io: Server;
  auth: SessionAuth;
  push: PushRouter;
  close(): Promise<void>;
}

describe.skipIf(!available)("two nodes on @socket.io/postgres-adapter, sessions from connect-pg-simple", () => {
  let server: PostgresServer;
  let writer: pg.Pool;
  const closers: Array<() => unknown> = [];
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    server = await startPostgresServer();
    await server.query(TABLE_SQL);
    await server.query(ATTACHMENTS_SQL);
    await server.query(postgresTriggerSql());
    writer = new pg.Pool(server.config);
    writer.on("error", () => {});
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    await writer?.end();
    await server?.destroy();
  });

  async function webApp(options: { maxAge?: number } = {}): Promise<WebApp> {
    const store = new PgStore({ pool: writer, pruneSessionInterval: false });
    const web = await startWebApp({ store, secret: SECRET, ...options });
    closers.push(() => web.close());
    return web;
  }

  /** One node, as docs/examples/postgres-node.ts builds it, with the lifecycle's test events. */
  async function node(sessions: Partial<PostgresStoreOptions> = {}) {
    const started = startPostgresNode({ connectionString: server.url, secret: SECRET, pushTokens: [TOKEN], sessions });
    serveLifecycle(started.io, started.auth);
    const made: Node = {
      ...started,
      url: await listen(started.http),
      close: async () => {
        // @socket.io/postgres-adapter 0.5 never gives back a LISTEN connection that dropped (it only forgets
        // it), so after a PostgreSQL restart pool.end() would wait for it forever: bounded here.
        await Promise.race([started.close(), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
      },
    };
    closers.push(() => made.close());
    return made;
  }

  async function pair(): Promise<[Node, Node]> {
    const nodes: [Node, Node] = [await node(), await node()];
    await untilServerCount(
      nodes.map((each) => each.io),
      2,
    );
    return nodes;
  }

  async function open(where: Node, cookie: string): Promise<ClientSocket> {
    const socket = await connect(where.url, { cookie, transports: ["websocket"] });
    sockets.push(socket);
    return socket;
  }

  /** Waits until the store on `where` hears NOTIFY (its LISTEN starts asynchronously, at attach). */
  async function listening(where: Node, web: WebApp): Promise<void> {
    await eventually(async () => {
      const cookie = await web.login({ id: "probe" });
      const socket = await open(where, cookie);
      const seen = ending(socket);
      await web.logout(cookie);
      await Promise.race([
        seen,
        new Promise((_, reject) => setTimeout(() => reject(new Error("no NOTIFY heard yet")), 300)),
      ]);
    }, 15_000);
  }

  const next = (socket: ClientSocket, event: string) => new Promise<unknown>((resolve) => socket.once(event, resolve));

  it("the push router counts recipients and acks on both nodes (complete: false for a silent socket)", async () => {
    const web = await webApp();
    const [a, b] = await pair();
    const cookie = await web.login({ id: "dave" });
    const opened = [await open(a, cookie), await open(b, cookie), await open(b, cookie)];
    for (const socket of opened) socket.on("confirm", (_data: unknown, ack: (value: string) => void) => ack("ok"));
    expect(await a.push.send({ to: { user: "dave" }, event: "confirm", ack: { timeout: 5000 } })).toEqual({
      ok: true,
      id: expect.any(String),
      recipients: 3,
      acked: 3,
      complete: true,
    });
    const silent = await open(b, cookie);
    silent.on("confirm", () => {});
    expect(
      await createPushClient({ url: `${b.url}/push`, token: TOKEN }).send({
        to: { user: "dave" },
        event: "confirm",
        ack: { timeout: 500 },
      }),
    ).toMatchObject({ recipients: 4, acked: 3, complete: false });
    expect(await createPushClient({ url: `${a.url}/push`, token: TOKEN }).presence(["dave", "nobody"])).toEqual({
      dave: 4,
      nobody: 0,
    });
  });

  it("endSession and endUser on node A end the sockets on both nodes, and only those", async () => {
    const web = await webApp();
    const [a, b] = await pair();
    const grace = await web.login({ id: "grace" });
    const heidi = await web.login({ id: "heidi" });
    const bystander = [await open(a, await web.login({ id: "ivan" })), await open(b, await web.login({ id: "ivan" }))];
    const ended = (list: ClientSocket[]) =>
      Promise.all(list.map((socket) => Promise.all([next(socket, "session:ended"), next(socket, "disconnect")])));
    const graceEnded = ended([await open(a, grace), await open(b, grace)]);
    await a.auth.endSession(a.io, sessionIdOf(grace));
    expect(await graceEnded).toEqual([
      [{ code: "SESSION_NOT_FOUND" }, "io server disconnect"],
      [{ code: "SESSION_NOT_FOUND" }, "io server disconnect"],
    ]);
    const heidiEnded = ended([await open(a, heidi), await open(b, heidi)]);
    await a.auth.endUser(a.io, "heidi");
    expect(await heidiEnded).toEqual([
      [{ code: "UNAUTHENTICATED" }, "io server disconnect"],
      [{ code: "UNAUTHENTICATED" }, "io server disconnect"],
    ]);
    expect(bystander.every((socket) => socket.connected)).toBe(true);
  });

  it("a logout over HTTP alone (connect-pg-simple's DELETE) ends the session's sockets on both nodes within 1 s", async () => {
    const web = await webApp();
    const [a, b] = await pair();
    await listening(a, web);
    await listening(b, web);
    const cookie = await web.login({ id: "ann" });
    const seen = [await open(a, cookie), await open(b, cookie)].map((socket) => ending(socket));
    const other = await open(b, await web.login({ id: "ann" }));
    const started = Date.now();
    await web.logout(cookie); // no endSession: the trigger's NOTIFY does it
    expect(await Promise.all(seen)).toEqual([
      { event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" },
      { event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" },
    ]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(other.connected).toBe(true);
  });

  it("an UPDATE that moves `expire` into the past ends the sockets with SESSION_EXPIRED; pruning sends nothing", async () => {
    const web = await webApp();
    const [a] = [await node()];
    await listening(a, web);
    const cookie = await web.login({ id: "exp" });
    const socket = await open(a, cookie);
    const seen = ending(socket);
    await server.query("UPDATE session SET expire = now() - interval '1 minute' WHERE sid = $1", [sessionIdOf(cookie)]);
    expect(await seen).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });
    // connect-pg-simple's pruning deletes rows already past `expire`: the trigger stays quiet for them.
    const listener = new pg.Client(server.config);
    await listener.connect();
    closers.push(() => listener.end());
    const heard: string[] = [];
    listener.on("notification", (message) => heard.push(message.payload ?? ""));
    await listener.query("LISTEN socket_io_session_auth");
    await new Promise<void>((resolve, reject) =>
      new PgStore({ pool: writer, pruneSessionInterval: false }).pruneSessions((err) =>
        err ? reject(err as Error) : resolve(),
      ),
    );
    await listener.query("SELECT 1"); // a round trip after the prune's commit: its notifications would be here
    expect(heard).toEqual([]);
    expect(await server.query("SELECT sid FROM session WHERE sid = $1", [sessionIdOf(cookie)])).toEqual([]);
  });

  it("20 concurrent updates from sockets on both nodes lose nothing; the web app's next request sees them; expire is kept", async () => {
    const web = await webApp();
    const [a, b] = await pair();
    const cookie = await web.login({ id: "upd" });
    const id = sessionIdOf(cookie);
    const expireOf = async () =>
      (await server.query<{ expire: string }>("SELECT expire::text AS expire FROM session WHERE sid = $1", [id]))[0]!
        .expire;
    const before = await expireOf();
    const one = await open(a, cookie);
    const two = await open(b, cookie);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ask<{ ok: boolean; code?: string }>(i % 2 === 0 ? one : two, "add", i)),
    );
    expect(answers.filter((answer) => !answer.ok)).toEqual([]);
    expect(await expireOf()).toBe(before);
    // express-session + connect-pg-simple read it on the next request, keep it, and write it back.
    await web.visit({ seen: true }, cookie);
    const [row] = await server.query<{ sess: { items: number[]; seen: boolean } }>(
      "SELECT sess FROM session WHERE sid = $1",
      [id],
    );
    expect([...row!.sess.items].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(row!.sess.seen).toBe(true);
  });

  it("warns once, with its code, when the table has no trigger (and lookups work all the same)", async () => {
    await server.query("CREATE TABLE bare (LIKE session INCLUDING ALL)");
    const warnings: Array<{ message: string; code?: string }> = [];
    const onWarning = (warning: Error & { code?: string }) =>
      void warnings.push({ message: warning.message, code: warning.code });
    process.on("warning", onWarning);
    try {
      const a = await node({ tableName: "bare" });
      const store = new PgStore({ pool: writer, tableName: "bare", pruneSessionInterval: false });
      const web = await startWebApp({ store, secret: SECRET });
      closers.push(() => web.close());
      const cookie = await web.login({ id: "bare" });
      await open(a, cookie);
      await open(a, cookie);
      await eventually(async () => expect(warnings).toHaveLength(1), 5000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(warnings).toEqual([
        {
          code: "SOCKET_IO_SESSION_AUTH_POSTGRES_NOTIFY",
          message: expect.stringContaining('the table "bare" has no trigger socket_io_session_auth_end'),
        },
      ]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("after PostgreSQL restarts, the store LISTENs again: a logout ends sockets at once again", async () => {
    const web = await webApp();
    const a = await node();
    await listening(a, web);
    await server.stop();
    await server.start();
    await untilServerCount([a.io], 1);
    await listening(a, web); // NOTIFY reaches the store again, with no restart of the node
    const cookie = await web.login({ id: "back" });
    const seen = ending(await open(a, cookie));
    await web.logout(cookie);
    expect(await seen).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
  });
});
