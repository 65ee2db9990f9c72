import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { format } from "node:util";
import createDebug from "debug";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, SessionAuthError, type SessionData, type SessionStore } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { connect, refusal, startRealtime } from "../../support/realtime.js";
import { sessionIdOf, startWebApp } from "../../support/web-app.js";

// What real set-ups send (issue 10): each input from a public bug report, replayed against the real
// session library that writes it, a real socket.io server and client.

const SECRET = "keyboard cat";
const require = createRequire(import.meta.url);
const closers: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of closers.splice(0).reverse()) await each.close();
});

const request = (headers: Record<string, string>): IncomingMessage => ({ headers, url: "/" }) as IncomingMessage;

async function refusedWith(promise: Promise<unknown>): Promise<SessionAuthError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SessionAuthError);
    return error as SessionAuthError;
  }
  throw new Error("expected a refusal");
}

/** A store of fixed sessions (for inputs no session library writes by itself). */
function fixed(sessions: Record<string, SessionData>): SessionStore {
  return { name: "fixed", get: async (id) => (Object.hasOwn(sessions, id) ? { session: sessions[id]! } : null) };
}

describe("cookies as browsers send them", () => {
  it("a quoted connect.sid is accepted, as express-session itself accepts it", async () => {
    const web = await startWebApp();
    closers.push(web);
    const cookie = await web.login({ id: 1 });
    const value = cookie.slice("connect.sid=".length);
    // express-session reads the quoted cookie as the same session (its whoami answers the user).
    const http = await fetch(`${web.url}/visit`, {
      method: "POST",
      headers: { cookie: `connect.sid="${value}"`, "content-type": "application/json" },
      body: "{}",
    });
    expect(http.headers.getSetCookie()).toEqual([]); // no new session was started
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
    closers.push({ close: () => auth.close() });
    expect((await auth.authenticate(request({ cookie: `connect.sid="${value}"` }))).userId).toBe("1");
  });

  it("of two connect.sid cookies (another app's on a parent domain first), the one that verifies is used", async () => {
    const web = await startWebApp();
    closers.push(web);
    const ours = await web.login({ id: 2 });
    const theirs = signSessionCookie({ value: "their-session-id", secret: "another app's secret" });
    const errors: SessionAuthError[] = [];
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET, onError: (error) => errors.push(error) });
    closers.push({ close: () => auth.close() });
    const realtime = await startRealtime((io) => void io.use(auth));
    closers.push(realtime);
    const socket = await connect(realtime.url, { cookie: `${theirs}; ${ours}` });
    closers.push(socket);
    expect(socket.connected).toBe(true);
    expect(await auth.authenticate(request({ cookie: `connect.sid=plain-value; ${ours}` }))).toMatchObject({
      userId: "2",
    });
    // Neither verifies: refused, and the diagnosis says how many came.
    const refused = await refusal(realtime.url, { cookie: `${theirs}; ${theirs}` });
    expect(refused.message).toBe("BAD_SIGNATURE");
    expect(errors.at(-1)!.message).toMatch(/2 cookies named "connect.sid" came/);
  });
});

describe("what Passport leaves in the session", () => {
  it("reads id / _id of a whole user object under passport.user", async () => {
    const auth = sessionAuth({
      store: fixed({
        a: { passport: { user: { id: 17, username: "u17" } } } as never,
        b: { passport: { user: { _id: "m18", username: "u18" } } } as never,
      }),
      secret: SECRET,
    });
    expect(
      (await auth.authenticate(request({ cookie: signSessionCookie({ value: "a", secret: SECRET }) }))).userId,
    ).toBe("17");
    expect(
      (await auth.authenticate(request({ cookie: signSessionCookie({ value: "b", secret: SECRET }) }))).userId,
    ).toBe("m18");
  });

  it("when nothing identifies a user but the session holds one, says what was found and that identify is the fix", async () => {
    const auth = sessionAuth({
      store: fixed({ a: { passport: { user: { email: "x@example.com" } } } as never }),
      secret: SECRET,
    });
    const error = await refusedWith(
      auth.authenticate(request({ cookie: signSessionCookie({ value: "a", secret: SECRET }) })),
    );
    expect(error.code).toBe("UNAUTHENTICATED");
    expect(error.message).toMatch(/`passport.user` holds an object with keys "email"/);
    expect(error.message).toMatch(/identify/);
    expect(error.message).not.toContain("x@example.com");
  });

  it("an id that is a number beyond 2^53 never becomes a user room", async () => {
    const huge = JSON.parse('{"passport":{"user":12345678901234567890}}') as SessionData;
    const auth = sessionAuth({ store: fixed({ a: huge, b: { userId: 1.5 } }), secret: SECRET });
    for (const id of ["a", "b"]) {
      const error = await refusedWith(
        auth.authenticate(request({ cookie: signSessionCookie({ value: id, secret: SECRET }) })),
      );
      expect(error.code).toBe("UNAUTHENTICATED");
      expect(error.message).toMatch(/not a safe integer/);
    }
    const exact = sessionAuth({ store: fixed({ a: huge }), secret: SECRET, identify: () => 12345678901234567890n });
    expect(
      (await exact.authenticate(request({ cookie: signSessionCookie({ value: "a", secret: SECRET }) }))).userId,
    ).toBe("12345678901234567890");
  });
});

describe("failures that are not outages", () => {
  it("a store that fails with a TypeError (a misconfigured client) is refused STORE_UNAVAILABLE, not retryable", async () => {
    const store: SessionStore = {
      name: "broken",
      get: async () => {
        throw new TypeError("callback is not a function");
      },
    };
    const auth = sessionAuth({ store, secret: SECRET });
    const realtime = await startRealtime((io) => void io.use(auth));
    closers.push(realtime);
    const refused = await refusal(realtime.url, { cookie: signSessionCookie({ value: "a", secret: SECRET }) });
    expect(refused).toMatchObject({
      message: "STORE_UNAVAILABLE",
      data: { code: "STORE_UNAVAILABLE", retryable: false },
    });
    const error = await refusedWith(
      auth.authenticate(request({ cookie: signSessionCookie({ value: "a", secret: SECRET }) })),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/misconfiguration/);
    // An outage stays retryable.
    const down: SessionStore = {
      name: "down",
      get: async () => {
        throw Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
      },
    };
    const outage = await refusedWith(
      sessionAuth({ store: down, secret: SECRET }).authenticate(
        request({ cookie: signSessionCookie({ value: "a", secret: SECRET }) }),
      ),
    );
    expect(outage.retryable).toBe(true);
  });
});

describe("cross-origin pages", () => {
  it("NO_SESSION_COOKIE from a page on another site names SameSite", async () => {
    const auth = sessionAuth({ store: fixed({}), secret: SECRET, origins: ["http://localhost:5173"] });
    const error = await refusedWith(
      auth.authenticate(request({ origin: "http://localhost:5173", host: "127.0.0.1:3000" })),
    );
    expect(error.code).toBe("NO_SESSION_COOKIE");
    expect(error.message).toMatch(/SameSite=None; Secure/);
    const sameSite = await refusedWith(auth.authenticate(request({ host: "127.0.0.1:3000" })));
    expect(sameSite.message).not.toMatch(/SameSite/);
  });

  it("warns once at start when origins and socket.io's cors disagree, or recovery skips the check", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const auth = sessionAuth({ store: fixed({}), secret: SECRET, origins: ["http://localhost:5173"] });
      const realtime = await startRealtime((io) => void auth.attach(io), { connectionStateRecovery: {} });
      closers.push(realtime);
      await refusal(realtime.url, {});
      await refusal(realtime.url, {});
      await new Promise((resolve) => setImmediate(resolve));
      const codes = warnings.map((warning) => (warning as Error & { code?: string }).code);
      expect(codes.filter((code) => code === "SOCKET_IO_SESSION_AUTH_CORS")).toHaveLength(1);
      expect(codes.filter((code) => code === "SOCKET_IO_SESSION_AUTH_RECOVERY")).toHaveLength(1);

      warnings.length = 0;
      const agreed = sessionAuth({ store: fixed({}), secret: SECRET, origins: ["http://localhost:5173"] });
      const fine = await startRealtime((io) => void agreed.attach(io), {
        allowRequest: agreed.allowRequest,
        connectionStateRecovery: {},
        cors: { origin: ["http://localhost:5173"], credentials: true },
      });
      closers.push(fine);
      await refusal(fine.url, {});
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("logging the socket.io way", () => {
  it("logs every refusal and every end under DEBUG=socket.io-session-auth, with no session id", async () => {
    const lines: string[] = [];
    const previous = createDebug.disable();
    createDebug.enable("socket.io-session-auth");
    const log = createDebug("socket.io-session-auth");
    const originalLog = createDebug.log;
    createDebug.log = (...args: unknown[]) => void lines.push(format(...args));
    try {
      const web = await startWebApp();
      closers.push(web);
      const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
      closers.push({ close: () => auth.close() });
      const realtime = await startRealtime((io) => void auth.attach(io));
      closers.push(realtime);
      const cookie = await web.login({ id: 3 });
      const socket = await connect(realtime.url, { cookie });
      closers.push(socket);
      await refusal(realtime.url, { cookie: signSessionCookie({ value: "forged", secret: "wrong" }) });
      await auth.endSession(realtime.io, sessionIdOf(cookie));
      expect(log.enabled).toBe(true);
      expect(lines.join("\n")).toContain("refused a handshake: BAD_SIGNATURE");
      await expect.poll(() => lines.join("\n")).toContain("ended a socket (SESSION_NOT_FOUND)");
      for (const line of lines) {
        expect(line).not.toContain(sessionIdOf(cookie));
        expect(line).not.toContain("forged");
      }
    } finally {
      createDebug.log = originalLog;
      createDebug.enable(previous);
    }
  });
});

describe("Passport for real", () => {
  it("serializeUser((user, done) => done(null, user)) stores the whole user: the default identify reads its id", async () => {
    const { default: express } = await import("express");
    const { default: session } = await import("express-session");
    // passport ships no types (and @types/passport is not installed): only what this test uses.
    const passport = require("passport") as PassportLike;
    const { Strategy } = require("passport-local") as {
      Strategy: new (verify: (u: string, p: string, done: (e: unknown, user?: unknown) => void) => void) => unknown;
    };
    const store = new session.MemoryStore();
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false }));
    passport.use(
      new Strategy((username, password, done) =>
        done(null, username === "john" && password === "changeit" ? { id: 17, username: "john" } : false),
      ),
    );
    passport.serializeUser((user, done) => done(null, user)); // the whole user, as socket.io's passport example does
    passport.deserializeUser((user, done) => done(null, user));
    app.use(passport.session());
    app.post("/login", passport.authenticate("local", { successRedirect: "/", failureRedirect: "/login" }));
    const http = (await import("node:http")).createServer(app);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    closers.push({ close: () => new Promise<void>((resolve) => http.close(() => resolve())) });
    const port = (http.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/login`, {
      method: "POST",
      body: new URLSearchParams({ username: "john", password: "changeit" }),
      redirect: "manual",
    });
    expect(res.headers.get("location")).toBe("/");
    const cookie = res.headers.getSetCookie()[0]!.split(";")[0]!;
    const auth = sessionAuth({ store: memoryStore(store), secret: SECRET });
    closers.push({ close: () => auth.close() });
    const result = await auth.authenticate(request({ cookie }));
    expect(result.userId).toBe("17");
    expect((result.session as { passport?: unknown }).passport).toEqual({ user: { id: 17, username: "john" } });
  });
});

interface PassportLike {
  use(strategy: unknown): void;
  serializeUser(fn: (user: unknown, done: (error: unknown, value: unknown) => void) => void): void;
  deserializeUser(fn: (value: unknown, done: (error: unknown, user: unknown) => void) => void): void;
  session(): import("express").RequestHandler;
  authenticate(strategy: string, options: object): import("express").RequestHandler;
}
