import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import session from "express-session";
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { Server } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, type SessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { ask, connect, ending, refusal, serveWhoami, type WhoAmI } from "../../support/realtime.js";

// Passport 0.6+ regenerates the session in req.logout() (its fix for session fixation): req.sessionID read
// after it is the new, anonymous session's. auth.logout(io, req) reads the id first (issue 18, item 4).

const SECRET = "passport test secret 7f3a";
const USERS = new Map([["ada", { id: 42, username: "ada", password: "lovelace-1843" }]]);
const opened: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

type Logout = (auth: SessionAuth, io: Server, req: express.Request) => Promise<unknown>;

/** One Express 5 + express-session + Passport 0.7 (passport-local) app with socket.io on the same server. */
async function startApp(logout: Logout, { withPassport = true } = {}) {
  const store = new session.MemoryStore();
  const app = express();
  const http = createServer(app);
  const io = new Server(http);
  const refused: string[] = [];
  // onError takes the refusals (no line on stderr) so the tests can assert them.
  const auth = sessionAuth({
    store: memoryStore(store),
    secret: SECRET,
    revalidate: false,
    onError: (error) => refused.push(error.code),
  });
  auth.attach(io);
  serveWhoami(io);

  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false }));
  app.use(express.urlencoded({ extended: false }));
  if (withPassport) {
    const authenticator = new passport.Passport();
    authenticator.use(
      new LocalStrategy((username, password, done) => {
        const user = USERS.get(username);
        done(null, user !== undefined && user.password === password ? user : false);
      }),
    );
    authenticator.serializeUser((user, done) => done(null, (user as { id: number }).id));
    authenticator.deserializeUser((id: number, done) =>
      done(
        null,
        [...USERS.values()].find((u) => u.id === id),
      ),
    );
    app.use(authenticator.session());
    app.post("/login", authenticator.authenticate("local", { failureRedirect: "/login" }), (_req, res) => {
      res.status(204).end();
    });
  } else {
    app.post("/login", (req, res, next) =>
      req.session.regenerate((err) => {
        if (err) return next(err);
        (req.session as unknown as { userId: string }).userId = "42";
        res.status(204).end();
      }),
    );
  }
  app.post("/logout", async (req, res, next) => {
    try {
      res.json({ ended: await logout(auth, io, req) });
    } catch (error) {
      next(error);
    }
  });

  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  opened.push(async () => {
    io.disconnectSockets(true);
    await io.close();
    http.closeAllConnections();
  });

  const post = async (path: string, body: Record<string, string>, cookie?: string) => {
    const res = await fetch(url + path, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams(body),
    });
    const set = res.headers.getSetCookie().map((line) => line.split(";")[0]);
    return { status: res.status, text: await res.text(), cookie: set.join("; ") };
  };
  const login = async () => {
    const answer = await post("/login", { username: "ada", password: "lovelace-1843" });
    expect(answer.status).toBe(204);
    expect(answer.cookie).toMatch(/^connect\.sid=s%3A/);
    return answer.cookie;
  };
  return { url, io, auth, store, post, login, refused };
}

describe("logout with Passport 0.7 (passport-local) and express-session", () => {
  it("auth.logout(io, req) ends every tab of the session, though req.logout() regenerated it", async () => {
    const app = await startApp((auth, io, req) => auth.logout(io, req));
    const cookie = await app.login();
    const tabs = await Promise.all([connect(app.url, { cookie }), connect(app.url, { cookie })]);
    opened.push(() => tabs.forEach((tab) => tab.close()));
    expect((await ask<WhoAmI>(tabs[0], "whoami")).userId).toBe("42");
    const ends = tabs.map((tab) => ending(tab));

    const answer = await app.post("/logout", {}, cookie);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ ended: { nodes: 1, acknowledged: 1, complete: true } });
    for (const ended of await Promise.all(ends)) {
      expect(ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    }
    // Passport gave the browser a new, anonymous session; neither cookie opens a socket now.
    expect(answer.cookie).toMatch(/^connect\.sid=s%3A/);
    expect(answer.cookie).not.toBe(cookie);
    expect((await refusal(app.url, { cookie })).data).toMatchObject({ code: "SESSION_NOT_FOUND" });
    expect((await refusal(app.url, { cookie: answer.cookie })).data).toMatchObject({ code: "UNAUTHENTICATED" });
    expect(app.refused).toEqual(["SESSION_NOT_FOUND", "UNAUTHENTICATED"]);
  });

  it("the trap it avoids: auth.endSession(io, req.sessionID) after req.logout() names the new session and ends nothing", async () => {
    const app = await startApp(
      (auth, io, req) =>
        new Promise((resolve, reject) =>
          // Passport's own req.logout, as its docs show it (its type is not declared here).
          (req as unknown as { logout(done: (err?: unknown) => void): void }).logout((err) =>
            err ? reject(err) : resolve(auth.endSession(io, req.sessionID)),
          ),
        ),
    );
    const cookie = await app.login();
    const tab = await connect(app.url, { cookie });
    opened.push(() => tab.close());

    expect((await app.post("/logout", {}, cookie)).status).toBe(200);
    // Still connected as user 42 (until a re-read finds the old session gone: revalidate is off here).
    expect((await ask<WhoAmI>(tab, "whoami")).userId).toBe("42");
    expect(tab.connected).toBe(true);
  });

  it("without Passport, auth.logout(io, req) destroys the express-session and ends its sockets", async () => {
    const app = await startApp((auth, io, req) => auth.logout(io, req), { withPassport: false });
    const cookie = await app.login();
    const tab = await connect(app.url, { cookie });
    opened.push(() => tab.close());
    const ended = ending(tab);

    expect((await app.post("/logout", {}, cookie)).status).toBe(200);
    expect(await ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    expect(await new Promise((resolve) => app.store.length((_err, count) => resolve(count)))).toBe(0);
  });
});
