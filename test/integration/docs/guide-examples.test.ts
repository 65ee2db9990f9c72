import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import session from "express-session";
import { Server } from "socket.io";
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { memoryStore } from "socket.io-session-auth/memory";
import { connect, refusal } from "../../support/realtime.js";
import { startWebApp, sessionIdOf } from "../../support/web-app.js";
import { cookieHeaderOf } from "../../support/cookies.js";

// Runs the examples of docs/any-store.md, migrating.md, cookie-sessions.md (the web
// side) and writing-an-adapter.md: what the pages show is what these tests exercise. (Getting started and
// the README's quick start are whole apps: docs/pages.test.ts runs them as pasted.)

const opened: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function listen(http: HttpServer): Promise<string> {
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  opened.push(() => {
    http.closeAllConnections();
    return new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

function track(socket: ClientSocket): ClientSocket {
  opened.push(() => socket.close());
  return socket;
}

/** Connects and resolves with the first `event` the server sends (listening before the connection opens). */
async function first<T>(url: string, cookie: string, event = "hello"): Promise<T> {
  const socket = track(
    ioClient(url, { extraHeaders: { cookie }, transports: ["websocket"], reconnection: false, forceNew: true }),
  );
  return new Promise<T>((resolve, reject) => {
    socket.once(event, resolve);
    socket.once("connect_error", (err: Error & { data?: unknown }) =>
      reject(new Error(`${err.message} ${JSON.stringify(err.data)}`)),
    );
  });
}

/** Resolves with the next event of that name. */
const next = <T>(socket: ClientSocket, event: string) => new Promise<T>((resolve) => socket.once(event, resolve));

describe("docs/any-store.md", () => {
  it("a store of your own: memoryStore reads it through get(sid, callback), and its expiry holds", async () => {
    const { auth, sessions, store } = await import("../../../docs/examples/any-store-custom.js");
    const app = express();
    app.use(sessions);
    app.post("/login", (req, res) => {
      req.session.userId = "custom-user";
      req.session.cookie.maxAge = 300;
      res.sendStatus(204);
    });
    const web = await listen(createServer(app));
    const http = createServer();
    const io = new Server(http);
    io.use(auth);
    io.on("connection", (socket) => socket.emit("hello", socket.data.userId));
    opened.push(() => io.close());
    const url = await listen(http);

    const cookie = cookieHeaderOf(await fetch(`${web}/login`, { method: "POST" }));
    const reads = store.reads.length;
    expect(await first(url, cookie)).toBe("custom-user");
    expect(store.reads.length).toBe(reads + 1);
    await new Promise((resolve) => setTimeout(resolve, 400)); // the session's maxAge (300 ms) passes
    expect((await refusal(url, { cookie })).data).toEqual({ code: "SESSION_NOT_FOUND", retryable: false });
  });
});

describe("docs/migrating.md", () => {
  const secret = "migrating secret";

  async function serve(wire: (app: express.Express, io: Server, store: session.Store) => void, withSessions = false) {
    const store = new session.MemoryStore();
    const app = express();
    if (withSessions) app.use(session({ store, secret, resave: false, saveUninitialized: false }));
    const http = createServer(app);
    const io = new Server(http);
    wire(app, io, store);
    app.post("/login", (req, res) => {
      Object.assign(req.session, { userId: "7", passport: { user: "p7" } }); // passport.user wins in the default identify
      res.sendStatus(204);
    });
    opened.push(() => io.close());
    const url = await listen(http);
    return { url, store, login: async () => cookieHeaderOf(await fetch(`${url}/login`, { method: "POST" })) };
  }

  const hello = (url: string, cookie: string) => first<string>(url, cookie);

  it("io.engine.use(session), before: it works, and joins the raw session id as a room", async () => {
    const { before } = await import("../../../docs/examples/migrate-engine-before.js");
    let io!: Server;
    const { url, login } = await serve((app, server, store) => {
      io = server;
      before(app, server, store, secret);
    });
    const cookie = await login();
    expect(await hello(url, cookie)).toBe("you are 7");
    const sid = sessionIdOf(cookie);
    expect(io.of("/").adapter.rooms.has(sid)).toBe(true); // the bearer secret, as a room name
    expect((await refusal(url, { transports: ["websocket"] })).message).toBe("not logged in");
  });

  it("io.engine.use(session), after: sessionAuth, rooms by hash, logout closes the socket", async () => {
    const { after } = await import("../../../docs/examples/migrate-engine-after.js");
    let io!: Server;
    const { url, login } = await serve((app, server, store) => {
      io = server;
      after(app, server, store, secret);
    });
    const cookie = await login();
    const socket = track(
      ioClient(url, { extraHeaders: { cookie }, transports: ["websocket"], reconnection: false, forceNew: true }),
    );
    await next(socket, "hello");
    const sid = sessionIdOf(cookie);
    expect([...io.of("/").adapter.rooms.keys()].some((room) => room.includes(sid))).toBe(false);
    const closed = next(socket, "disconnect");
    await fetch(`${url}/logout`, { method: "POST", headers: { cookie } });
    expect(await closed).toBe("io server disconnect");
    expect((await refusal(url, { cookie })).data).toEqual({ code: "SESSION_NOT_FOUND", retryable: false });
  });

  it("express-socket.io-session, after: anonymous refused; a socket event writes with auth.update", async () => {
    const { after } = await import("../../../docs/examples/migrate-sharedsession-after.js");
    const { url, store, login } = await serve((_app, io, store) => after(io, store, secret), true);
    expect((await refusal(url)).data).toEqual({ code: "NO_SESSION_COOKIE", retryable: false });
    const cookie = await login();
    const socket = track(await connect(url, { cookie, transports: ["websocket"] }));
    const sid = sessionIdOf(cookie);
    const stored = async () =>
      new Promise<session.SessionData | null | undefined>((resolve) => store.get(sid, (_err, value) => resolve(value)));
    const expires = (await stored())?.cookie.expires;
    socket.emit("visit");
    await expect.poll(async () => (await stored())?.lastSeen, { timeout: 5000 }).toBeTypeOf("number");
    expect(await stored()).toMatchObject({ userId: "7" });
    expect((await stored())?.cookie.expires).toEqual(expires); // the stored expiry is kept, not the handshake's
  });

  it("passport.socketio, after: passport.user is the userId; the user is loaded, and a deleted user is refused", async () => {
    const { after } = await import("../../../docs/examples/migrate-passport-after.js");
    const users = new Map([["p7", { id: "p7", name: "Grace" }]]);
    const { url, login } = await serve(
      (_app, io, store) => after(io, memoryStore(store), secret, async (id) => users.get(id) ?? null),
      true,
    );
    const cookie = await login();
    expect(await hello(url, cookie)).toBe("you are Grace");
    users.delete("p7");
    expect((await refusal(url, { cookie })).message).toBe("UNKNOWN_USER");
  });
});

describe("docs/cookie-sessions.md, the web side", () => {
  it("cookie-session-web.ts + cookie-session.ts", async () => {
    process.env.SESSION_KEYS = "docs key";
    const { app, keys } = await import("../../../docs/examples/cookie-session-web.js");
    const { acceptCookieSessions } = await import("../../../docs/examples/cookie-session.js");
    const web = await listen(createServer(app));
    const http = createServer();
    const io = new Server(http);
    acceptCookieSessions(io, keys);
    opened.push(() => io.close());
    const url = await listen(http);
    const cookie = cookieHeaderOf(await fetch(`${web}/login`, { method: "POST" }));
    expect(cookie).toMatch(/^session=.+; session\.sig=.+$/);
    expect(await first(url, cookie)).toEqual({ userId: "42" });
  });

  it("cookie-koa-web.ts + cookie-koa.ts", async () => {
    process.env.SESSION_KEYS = "docs key";
    const { app } = await import("../../../docs/examples/cookie-koa-web.js");
    const { acceptKoaSessions } = await import("../../../docs/examples/cookie-koa.js");
    const web = await listen(createServer(app.callback()));
    const http = createServer();
    const io = new Server(http);
    acceptKoaSessions(io, ["docs key"]);
    opened.push(() => io.close());
    const url = await listen(http);
    const res = await fetch(`${web}/login`, { method: "POST" });
    expect(res.status).toBe(204);
    const helloes: unknown[] = [];
    io.on("connection", (socket) => helloes.push(socket.data.userId));
    track(await connect(url, { cookie: cookieHeaderOf(res), transports: ["websocket"] }));
    expect(helloes).toEqual(["43"]);
  });

  it("cookie-revocation-web.ts + cookie-revocation.ts: logout revokes the copy of the cookie and closes its socket", async () => {
    const { revocableWebApp } = await import("../../../docs/examples/cookie-revocation-web.js");
    const { acceptRevocableCookieSessions } = await import("../../../docs/examples/cookie-revocation.js");
    const keys = ["revocation key"];
    const http = createServer();
    const io = new Server(http);
    const revocation = acceptRevocableCookieSessions(io, keys, 60_000);
    opened.push(() => io.close());
    const url = await listen(http);
    const web = await listen(createServer(revocableWebApp(keys, (sid) => revocation.revoke(sid))));

    const cookie = cookieHeaderOf(await fetch(`${web}/login`, { method: "POST" }));
    const socket = track(await connect(url, { cookie, transports: ["websocket"] }));
    const closed = next(socket, "disconnect");
    const out = await fetch(`${web}/logout`, { method: "POST", headers: { cookie } });
    expect(out.headers.getSetCookie().join()).toMatch(/session=;/); // the browser's copy is cleared
    expect(await closed).toBe("io server disconnect");
    // A copy of the cookie taken before logout still verifies, but is refused.
    expect((await refusal(url, { cookie })).data).toEqual({ code: "FORBIDDEN", retryable: false });
  });
});

describe("docs/writing-an-adapter.md", () => {
  it("adapter-contract.ts: the contract shown is the package's (checked by tsc; this keeps the file run)", async () => {
    expect((await import("../../../docs/examples/adapter-contract.js")).checked).toBe(true);
  });

  it("adapter-cookies.ts: the minted cookies are accepted as real ones", async () => {
    const { cookies } = await import("../../../docs/examples/adapter-cookies.js");
    const app = await startWebApp({ secret: "adapter secret" });
    opened.push(() => app.close());
    const real = await app.login({ id: 1 });
    const sid = sessionIdOf(real);
    const [express, fastify, keygrip] = cookies(
      sid,
      "adapter secret",
      ["k1", "k0"],
      Buffer.from('{"user":{"id":1}}').toString("base64"),
    );
    expect(express).toBe(real);
    expect(fastify).toMatch(/^sessionId=[^;]+\.[\w+/%]+$/);
    expect(keygrip).toMatch(/^session=[\w=]+; session\.sig=[\w-]+$/);
  });
});
