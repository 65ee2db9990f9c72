/**
 * The measured process: one socket.io server per variant, each on its own port of 127.0.0.1, all in this
 * process. bench/run.ts asks for a CPU mark before and after each batch of connections that the client
 * process opens against one variant, so the delta is that batch's cost (only one variant is busy at a time).
 */
import { createSecretKey, hash, randomBytes } from "node:crypto";
import { channel as diagnosticsChannel, tracingChannel } from "node:diagnostics_channel";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import connectPgSimple from "connect-pg-simple";
import { RedisStore } from "connect-redis";
import { parse as parseCookie } from "cookie";
import { sign, unsign } from "cookie-signature";
import session from "express-session";
import { Redis } from "ioredis";
import pg from "pg";
import { createClient } from "redis";
import { Server, type ServerOptions } from "socket.io";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { encode as encodeJwt } from "@auth/core/jwt";
import { sealData } from "iron-session";
import { CHANNELS, sessionAuth } from "socket.io-session-auth";
import { authjsStore } from "socket.io-session-auth/authjs";
import { betterAuthStore } from "socket.io-session-auth/better-auth";
import { ironSessionStore } from "socket.io-session-auth/iron-session";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { memoryStore } from "socket.io-session-auth/memory";
import { postgresStore } from "socket.io-session-auth/postgres";
import { redisStore } from "socket.io-session-auth/redis";
import type { Socket } from "socket.io";
import { serveRunner, type Mark, type ServerRequest, type VariantInfo } from "./protocol.js";

const SECRET = "bench secret";
const USER = { id: 42, name: "alice" };

interface Running {
  info: VariantInfo;
  io: Server;
  http: HttpServer;
}

const running = new Map<string, Running>();
// Options of every sessionAuth here: setup's `storeTimeout`, when given.
let timing: { timeout?: number } = {};
const closers: Array<() => unknown> = [];

function newSid(): string {
  return randomBytes(24).toString("base64url"); // uid-safe(24), as express-session
}

function cookieFor(sid: string): string {
  return `connect.sid=${encodeURIComponent(`s:${sign(sid, SECRET)}`)}`;
}

// A variant's `cookie` is one Cookie header per line: the client takes them in turn from the first at
// each batch. With at least as many sessions as connections in a batch, every connection of a batch is
// of a session this node does not follow yet (the previous batch's sockets are gone), so sessionAuth
// does one store read per handshake like the floors (shared reads, issue 22, would otherwise make it do
// less work than the hand-written floors it is compared with). The runner says how many (its batch).
const MIN_SESSIONS_PER_STORE = 64;

function tampered(cookies: string): string {
  return cookies
    .split("\n")
    .map((cookie) => cookie.slice(0, -1) + (cookie.endsWith("A") ? "B" : "A"))
    .join("\n");
}

function sessionObject(): session.SessionData {
  const maxAge = 24 * 3_600_000;
  return {
    cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), httpOnly: true, path: "/" },
    user: USER,
  } as unknown as session.SessionData;
}

interface VariantSpec {
  id: string;
  label: string;
  cookie: string;
  outcome: VariantInfo["outcome"];
  /** Whether the variant talks to Redis (the runner then reports its Redis commands). */
  redis: boolean;
  observed?: boolean;
  setup(io: Server): void;
  allowRequest?: ServerOptions["allowRequest"];
}

// The variants to serve (setup's `only`), or all. bench/instructions.ts serves one per process: an app
// has one store, and a process serving several shares the library's code between them.
let serving: ReadonlySet<string> | undefined;

async function listen(spec: VariantSpec): Promise<void> {
  if (serving !== undefined && !serving.has(spec.id)) return;
  const http = createServer();
  const io = new Server(http, spec.allowRequest ? { allowRequest: spec.allowRequest } : {});
  spec.setup(io);
  io.on("connection", () => {});
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const { id, label, cookie, outcome, redis, observed } = spec;
  running.set(id, {
    info: { id, label, port: (http.address() as AddressInfo).port, cookie, outcome, redis, observed },
    io,
    http,
  });
}

async function setup(redisPort: number, sessions: number, postgres?: pg.PoolConfig): Promise<VariantInfo[]> {
  const SESSIONS_PER_STORE = Math.max(MIN_SESSIONS_PER_STORE, sessions);
  // Clients of the measured process. Sessions are written the real way: connect-redis over node-redis.
  const nodeRedis = createClient({ socket: { host: "127.0.0.1", port: redisPort } });
  nodeRedis.on("error", () => {});
  await nodeRedis.connect();
  const ioredis = new Redis(redisPort, "127.0.0.1");
  ioredis.on("error", () => {});
  if (ioredis.status !== "ready") await once(ioredis, "ready");
  closers.push(
    () => nodeRedis.destroy(),
    () => ioredis.disconnect(),
  );

  const connectRedis = new RedisStore({ client: nodeRedis });
  const memory = new session.MemoryStore();

  const redisSids = Array.from({ length: SESSIONS_PER_STORE }, newSid);
  for (const sid of redisSids) await connectRedis.set(sid, sessionObject());
  const redisCookie = redisSids.map(cookieFor).join("\n");
  const memorySids = Array.from({ length: SESSIONS_PER_STORE }, newSid);
  for (const sid of memorySids)
    await new Promise<void>((resolve, reject) =>
      memory.set(sid, sessionObject(), (err) => (err ? reject(err) : resolve())),
    );
  const memoryCookie = memorySids.map(cookieFor).join("\n");

  await listen({
    id: "bare",
    label: "bare socket.io",
    cookie: redisCookie,
    outcome: "accept",
    redis: false,
    setup: () => {},
  });

  const memoryAuth = sessionAuth({ ...timing, store: memoryStore(memory), secret: SECRET });
  await listen({
    id: "memory",
    label: "sessionAuth + memoryStore",
    cookie: memoryCookie,
    outcome: "accept",
    redis: false,
    setup: (io) => io.use(memoryAuth),
  });

  // The same, with an APM listening: every diagnostics channel subscribed, with handlers that do nothing
  // (subscribed only during this variant's batches: channels are process-wide, and `memory` must run
  // unobserved). memory ÷ its floor shows what the channels cost when nobody listens.
  const memoryObservedAuth = sessionAuth({ ...timing, store: memoryStore(memory), secret: SECRET });
  await listen({
    id: "memory-observed",
    label: "sessionAuth + memoryStore, every diagnostics channel subscribed",
    cookie: memoryCookie,
    outcome: "accept",
    redis: false,
    observed: true,
    setup: (io) => io.use(memoryObservedAuth),
  });

  // For scale: socket.io's own cost of having a middleware at all.
  await listen({
    id: "noop",
    label: "io.use that only calls next() (no auth work)",
    cookie: memoryCookie,
    outcome: "accept",
    redis: false,
    setup: (io) => io.use((_socket, next) => next()),
  });

  const memoryNoRoomsAuth = sessionAuth({ ...timing, store: memoryStore(memory), secret: SECRET, rooms: false });
  await listen({
    id: "memory-norooms",
    label: "sessionAuth + memoryStore, rooms: false",
    cookie: memoryCookie,
    outcome: "accept",
    redis: false,
    setup: (io) => io.use(memoryNoRoomsAuth),
  });

  const redisAuth = sessionAuth({ ...timing, store: redisStore({ client: ioredis }), secret: SECRET });
  await listen({
    id: "redis",
    label: "sessionAuth + redisStore (ioredis)",
    cookie: redisCookie,
    outcome: "accept",
    redis: true,
    setup: (io) => io.use(redisAuth),
  });

  const redisEngineAuth = sessionAuth({ ...timing, store: redisStore({ client: ioredis }), secret: SECRET });
  await listen({
    id: "redis-engine",
    label: "sessionAuth + redisStore, with allowRequest",
    cookie: redisCookie,
    outcome: "accept",
    redis: true,
    setup: (io) => io.use(redisEngineAuth),
    allowRequest: redisEngineAuth.allowRequest,
  });

  const badAuth = sessionAuth({ ...timing, store: redisStore({ client: ioredis }), secret: SECRET });
  await listen({
    id: "badsig",
    label: "bad signature, refused by io.use",
    cookie: tampered(redisCookie),
    outcome: "refuse",
    redis: true,
    setup: (io) => io.use(badAuth),
  });

  const badEngineAuth = sessionAuth({ ...timing, store: redisStore({ client: ioredis }), secret: SECRET });
  await listen({
    id: "badsig-engine",
    label: "bad signature, refused by allowRequest",
    cookie: tampered(redisCookie),
    outcome: "refuse",
    redis: true,
    setup: (io) => io.use(badEngineAuth),
    allowRequest: badEngineAuth.allowRequest,
  });

  // For scale: what socket.io itself spends refusing in a middleware that does nothing at all.
  await listen({
    id: "refuse-plain",
    label: "plain io.use refusal (no auth work)",
    cookie: redisCookie,
    outcome: "refuse",
    redis: false,
    setup: (io) => io.use((_socket, next) => next(new Error("unauthorized"))),
  });

  // socket.io's documented recipe ("How to use with express-session"): the session middleware on the
  // engine, so it runs on every HTTP request of the connection, then a check in io.use. resave and
  // saveUninitialized off, as a production app sets them (the docs' `true` would add a SET per request).
  const sessionMiddleware = session({
    secret: SECRET,
    store: new RedisStore({ client: nodeRedis }),
    resave: false,
    saveUninitialized: false,
  });
  await listen({
    id: "recipe",
    label: "recipe: io.engine.use(session({ store: RedisStore }))",
    cookie: redisCookie,
    outcome: "accept",
    redis: true,
    setup: (io) => {
      io.engine.use(sessionMiddleware);
      io.use((socket, next) => {
        const user = (socket.request as IncomingMessage & { session?: { user?: unknown } }).session?.user;
        next(user === undefined ? new Error("unauthorized") : undefined);
      });
    },
  });

  // The least one can write by hand: parse, unsign, GET, JSON.parse. No origin check, no timeout, no
  // error mapping: the floor that sessionAuth + redisStore is compared with.
  await listen({
    id: "handwritten",
    label: "hand-written cookie → unsign → GET",
    cookie: redisCookie,
    outcome: "accept",
    redis: true,
    setup: (io) =>
      io.use((socket, next) => {
        const raw = parseCookie(socket.request.headers.cookie ?? "")["connect.sid"];
        const sid = raw?.startsWith("s:") ? unsign(raw.slice(2), SECRET) : false;
        if (sid === false) return next(new Error("unauthorized"));
        ioredis.get(`sess:${sid}`).then(
          (json) => {
            if (json === null) return next(new Error("unauthorized"));
            socket.data.session = JSON.parse(json) as unknown;
            next();
          },
          () => next(new Error("unavailable")),
        );
      }),
  });

  // Better Auth with its memory adapter, in this process: the verification and Better Auth's own
  // findSession, with no database round-trip (as `memory` has none either).
  const betterAuthSecret = "bench-better-auth-secret-0123456789abcdef";
  const betterAuthInstance = betterAuth({
    secret: betterAuthSecret,
    baseURL: "http://127.0.0.1",
    database: memoryAdapter({ user: [], session: [], account: [], verification: [] }),
    emailAndPassword: { enabled: true },
    logger: { disabled: true },
    telemetry: { enabled: false },
  });
  const signedUp = await betterAuthInstance.api.signUpEmail({
    body: { email: "alice@example.com", password: "correct horse battery staple", name: "alice" },
  });
  // One session per connection of a batch, as the other variants, so that no handshake shares another's
  // read: the first from the sign-up, the others from Better Auth's own createSession (as a sign-in makes).
  const { internalAdapter } = await betterAuthInstance.$context;
  const betterAuthTokens = [signedUp.token!];
  while (betterAuthTokens.length < SESSIONS_PER_STORE)
    betterAuthTokens.push((await internalAdapter.createSession(signedUp.user.id, false)).token);
  const betterAuthCookie = betterAuthTokens
    .map((token) =>
      signSessionCookie({
        value: token,
        secret: betterAuthSecret,
        name: "better-auth.session_token",
        signing: "better-auth",
      }),
    )
    .join("\n");
  const betterAuthAuth = sessionAuth({ ...timing, store: await betterAuthStore(betterAuthInstance) });
  await listen({
    id: "better-auth",
    label: "sessionAuth + betterAuthStore (Better Auth memory adapter)",
    cookie: betterAuthCookie,
    outcome: "accept",
    redis: false,
    setup: (io) => io.use(betterAuthAuth),
  });

  // Auth.js v5 JWT sessions: each handshake decrypts the cookie with @auth/core/jwt's own decode (no store
  // round-trip, as Auth.js's default strategy has none). Cookies written by the same library's encode,
  // one per session so that no handshake shares another's read.
  const authjsSecret = "bench-authjs-secret-0123456789abcdef";
  const authjsCookies = await Promise.all(
    Array.from({ length: SESSIONS_PER_STORE }, async (_, i) => {
      const token = await encodeJwt({
        token: { sub: `${USER.id}`, name: USER.name, email: `alice${i}@example.com` },
        secret: authjsSecret,
        salt: "authjs.session-token",
      });
      return `authjs.session-token=${token}`;
    }),
  );
  const authjsAuth = sessionAuth({ ...timing, store: authjsStore({ secret: authjsSecret }) });
  await listen({
    id: "authjs",
    label: "sessionAuth + authjsStore (Auth.js v5 JWT)",
    cookie: authjsCookies.join("\n"),
    outcome: "accept",
    redis: false,
    setup: (io) => io.use(authjsAuth),
  });

  // iron-session: each handshake unseals the cookie with iron-session's own unsealData (stateless too).
  const ironPassword = "bench-iron-session-password-0123456789abcdef";
  const ironCookies = await Promise.all(
    Array.from({ length: SESSIONS_PER_STORE }, async (_, i) => {
      const seal = await sealData({ userId: `${USER.id}`, name: USER.name, n: i }, { password: ironPassword });
      return `app_session=${seal}`;
    }),
  );
  const ironAuth = sessionAuth({
    ...timing,
    store: ironSessionStore({ password: ironPassword, cookieName: "app_session" }),
  });
  await listen({
    id: "iron-session",
    label: "sessionAuth + ironSessionStore (iron-session 9 seal)",
    cookie: ironCookies.join("\n"),
    outcome: "accept",
    redis: false,
    setup: (io) => io.use(ironAuth),
  });

  if (postgres !== undefined) await postgresVariants(postgres, SESSIONS_PER_STORE);

  // For the split of what sessionAuth costs beyond its floor: its check alone (auth.authenticate: origin,
  // cookie, HMAC, lookup, expiry, identity, the copy), with socket.data and the rooms set by hand as the
  // floor sets them, and no lifecycle (nothing followed, no connection listener).
  const checkOnly = sessionAuth({ ...timing, store: memoryStore(memory), secret: SECRET });
  await listen({
    id: "check-memory",
    label: "sessionAuth's check alone (auth.authenticate in io.use, no lifecycle)",
    cookie: memoryCookie,
    outcome: "accept",
    redis: false,
    setup: (io) =>
      io.use((socket, next) => {
        checkOnly.authenticate(socket.request).then(
          (result) => {
            socket.data.session = result.session;
            socket.data.userId = result.userId;
            void socket.join([
              `user:${String(result.userId)}`,
              `session:${hash("sha256", result.sessionId, "hex").slice(0, 32)}`,
            ]);
            next();
          },
          () => next(new Error("unauthorized")),
        );
      }),
  });

  // The floors of issue 22: the same work as sessionAuth, written by hand (see floor() below).
  await listen({
    id: "floor-memory",
    label: "floor: hand-written, MemoryStore.get + rooms",
    cookie: memoryCookie,
    outcome: "accept",
    redis: false,
    setup: (io) => io.use(floor((sid, done) => memory.get(sid, (err, found) => done(err, found as FloorSession)))),
  });
  await listen({
    id: "floor-redis",
    label: "floor: hand-written, GET + rooms",
    cookie: redisCookie,
    outcome: "accept",
    redis: true,
    setup: (io) =>
      io.use(
        floor((sid, done) =>
          ioredis.get(`sess:${sid}`).then(
            (json) => done(null, json === null ? null : (JSON.parse(json) as FloorSession)),
            (err: unknown) => done(err),
          ),
        ),
      ),
  });

  return [...running.values()].map((each) => each.info);
}

interface FloorSession {
  user?: { id?: unknown };
}

// The floor's secret as an HMAC key made once, as sessionAuth makes its own (cookie-signature takes a KeyObject).
const SECRET_KEY = createSecretKey(Buffer.from(SECRET, "utf8"));

/**
 * A floor of issue 22: by hand, the same work as `sessionAuth` for an accepted handshake and no more:
 * parse the Cookie header, verify the `s:` signature (one HMAC-SHA256), one store lookup
 * (`lookup`: MemoryStore.get, or a Redis GET and JSON.parse), `socket.data.session` and `userId`, and
 * join the user room and the session room (named as sessionAuth names it: `session:` and the first 32 hex
 * digits of the id's SHA-256). No origin check, no timeout, no copy, no lifecycle.
 */
function floor(lookup: (sid: string, done: (err: unknown, found?: FloorSession | null) => void) => void) {
  // Named, so that a CPU profile (--profile) tells the floor's work apart.
  return function floorMiddleware(socket: Socket, next: (err?: Error) => void): void {
    const raw = parseCookie(socket.request.headers.cookie ?? "")["connect.sid"];
    const sid = raw?.startsWith("s:") ? unsign(raw.slice(2), SECRET_KEY) : false;
    if (sid === false) return next(new Error("unauthorized"));
    lookup(sid, (err, found) => {
      if (err) return next(new Error("unavailable"));
      if (!found) return next(new Error("unauthorized"));
      const userId = String(found.user?.id);
      socket.data.session = found;
      socket.data.userId = userId;
      void socket.join([`user:${userId}`, `session:${hash("sha256", sid, "hex").slice(0, 32)}`]);
      next();
    });
  };
}

/** sessionAuth + postgresStore beside its floor: the least one can write by hand against connect-pg-simple's table. */
async function postgresVariants(config: pg.PoolConfig, sessions: number): Promise<void> {
  const pool = new pg.Pool({ ...config, max: 10 });
  pool.on("error", () => {});
  closers.push(() => pool.end());
  const PgStore = connectPgSimple(session);
  const web = new PgStore({ pool, pruneSessionInterval: false });
  const sids = Array.from({ length: sessions }, newSid);
  for (const sid of sids)
    await new Promise<void>((resolve, reject) =>
      web.set(sid, sessionObject(), (err) => (err ? reject(err as Error) : resolve())),
    );
  const cookie = sids.map(cookieFor).join("\n");

  const auth = sessionAuth({ ...timing, store: postgresStore({ pool, listen: false }), secret: SECRET });
  await listen({
    id: "postgres",
    label: "sessionAuth + postgresStore (pg)",
    cookie,
    outcome: "accept",
    redis: false,
    setup: (io) => io.use(auth),
  });

  // The floor: parse, unsign, one SELECT through pool.query, JSON already parsed by pg. No origin check,
  // no timeout, no cancellation, no error mapping.
  await listen({
    id: "handwritten-pg",
    label: "hand-written cookie → unsign → SELECT",
    cookie,
    outcome: "accept",
    redis: false,
    setup: (io) =>
      io.use((socket, next) => {
        const raw = parseCookie(socket.request.headers.cookie ?? "")["connect.sid"];
        const id = raw?.startsWith("s:") ? unsign(raw.slice(2), SECRET) : false;
        if (id === false) return next(new Error("unauthorized"));
        pool.query('SELECT sess FROM "session" WHERE sid = $1 AND expire >= now()', [id]).then(
          (result) => {
            if (result.rows.length === 0) return next(new Error("unauthorized"));
            socket.data.session = (result.rows[0] as { sess: unknown }).sess;
            next();
          },
          () => next(new Error("unavailable")),
        );
      }),
  });
}

async function drain(variant: string, timeoutMs: number): Promise<void> {
  const target = running.get(variant);
  if (target === undefined) throw new Error(`unknown variant ${variant}`);
  const deadline = Date.now() + timeoutMs;
  while (target.io.engine.clientsCount > 0) {
    if (Date.now() > deadline)
      throw new Error(`${variant}: ${target.io.engine.clientsCount} engine clients still open after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function mark(collect: boolean): Mark {
  // A young-generation collection before a batch (not after: its fixed cost would be charged to the
  // batch), so the short-lived garbage a batch leaves is not charged to the next one. Not a full one: a
  // forced full collection makes V8 drop its optimized code, and the server then compiled the handshake
  // path afresh in every batch (about 60 optimizing compiles per batch, where a server under steady
  // traffic settles to a few), which charged each variant for its amount of JavaScript rather than for
  // what a handshake costs. Old-generation collections happen as they would under steady traffic.
  if (collect) (globalThis as { gc?: (options?: { type: "minor" | "major" }) => void }).gc?.({ type: "minor" });
  const { user, system } = process.cpuUsage();
  return { user, system };
}

const ignore = (): void => {};
const ignoreTrace = { start: ignore, end: ignore, asyncStart: ignore, asyncEnd: ignore, error: ignore };
const traced = [tracingChannel(CHANNELS.handshake), tracingChannel(CHANNELS.store)];
const plain = [CHANNELS.sessionEnd, CHANNELS.push, CHANNELS.socket].map((name) => diagnosticsChannel(name));
let observing = false;

function observe(on: boolean): null {
  if (on === observing) return null;
  observing = on;
  for (const each of traced) {
    if (on) each.subscribe(ignoreTrace);
    else each.unsubscribe(ignoreTrace);
  }
  for (const each of plain) {
    if (on) each.subscribe(ignore);
    else each.unsubscribe(ignore);
  }
  return null;
}

async function handle(message: ServerRequest): Promise<unknown> {
  switch (message.type) {
    case "setup":
      serving = message.only === undefined ? undefined : new Set(message.only);
      timing = message.storeTimeout === undefined ? {} : { timeout: message.storeTimeout };
      return setup(message.redisPort, message.sessions, message.postgres);
    case "mark":
      return mark(message.collect);
    case "observe":
      return observe(message.on);
    case "drain":
      return drain(message.variant, message.timeoutMs);
    case "exit":
      for (const each of running.values()) {
        each.io.disconnectSockets(true);
        await each.io.close();
      }
      for (const close of closers) await close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

serveRunner<ServerRequest>(handle);
