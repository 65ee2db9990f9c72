import type { Server } from "socket.io";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, sessionRoom, type SessionAuth, type SessionAuthError } from "socket.io-session-auth";
import { betterAuthStore, type BetterAuthSession } from "socket.io-session-auth/better-auth";
import {
  emptyDb,
  makeBetterAuth,
  memorySecondaryStorage,
  startBetterAuthWebApp,
  type BetterAuthWebApp,
  type MemoryDb,
} from "../../support/better-auth-app.js";
import { ask, connect, ending, refusal, startRealtime, type Realtime } from "../../support/realtime.js";

// Better Auth (better-auth 1.7, its own HTTP handler, email + password, its memory database) signs people
// in; a socket.io server with its own Better Auth instance over the same database reads those sessions.

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

interface Setup {
  db: MemoryDb;
  web: BetterAuthWebApp;
  auth: SessionAuth<BetterAuthSession>;
  realtime: Realtime;
  errors: SessionAuthError[];
  ends: SessionAuthError[];
  /** How many times Better Auth's findSession ran in the socket server. */
  lookups: () => number;
  headers: Record<string, unknown>[];
}

async function setup(
  options: {
    realtimeAuth?: Parameters<typeof makeBetterAuth>[1];
    web?: Parameters<typeof startBetterAuthWebApp>[1];
  } = {},
): Promise<Setup> {
  const db = emptyDb();
  // Set once the socket server exists; the web app's hook only runs after that.
  const late: { io?: Server; auth?: SessionAuth<BetterAuthSession> } = {};
  // The documented one-liner: Better Auth's session delete hook ends that session's sockets.
  const web = await startBetterAuthWebApp(db, {
    databaseHooks: {
      session: { delete: { after: async (session) => void (await late.auth!.endSession(late.io!, session.token)) } },
    },
    ...options.web,
  });
  opened.push(web);
  const realtimeBetterAuth = makeBetterAuth(db, { baseURL: web.url, ...options.realtimeAuth });
  const context = await realtimeBetterAuth.$context;
  let lookups = 0;
  const findSession = context.internalAdapter.findSession.bind(context.internalAdapter);
  context.internalAdapter.findSession = (token: string) => {
    lookups++;
    return findSession(token);
  };
  const store = await betterAuthStore(realtimeBetterAuth);
  const errors: SessionAuthError[] = [];
  const ends: SessionAuthError[] = [];
  const auth = sessionAuth({ store, onError: (e) => errors.push(e), onSessionEnd: (e) => ends.push(e) });
  late.auth = auth;
  const headers: Record<string, unknown>[] = [];
  const realtime = await startRealtime((server) => {
    late.io = server;
    auth.attach(server);
    server.engine.on("initial_headers", (h: Record<string, unknown>) => headers.push({ ...h }));
    server.engine.on("headers", (h: Record<string, unknown>) => headers.push({ ...h }));
    server.on("connection", (socket) => {
      socket.on("whoami", (ack: (value: unknown) => void) =>
        ack({ data: socket.data, rooms: [...socket.rooms].filter((room) => room !== socket.id) }),
      );
      socket.on("update", (ack: (value: unknown) => void) =>
        auth!
          .update(socket, () => {})
          .then(
            () => ack({ ok: true }),
            (error: Error) => ack({ ok: false, name: error.name, message: error.message }),
          ),
      );
    });
  });
  opened.push(realtime, { close: () => auth.close() });
  return { db, web, auth, realtime, errors, ends, lookups: () => lookups, headers };
}

async function open(url: string, cookie: string): Promise<ClientSocket> {
  const socket = await connect(url, { cookie });
  opened.push({ close: () => socket.disconnect() });
  return socket;
}

const tokenOf = (cookie: string) => decodeURIComponent(cookie.split("=")[1]!).split(".")[0]!;

describe("Better Auth: a signed-in user's socket", () => {
  it("knows whose socket it is: socket.data, the user and session rooms, and never the token", async () => {
    const { web, realtime } = await setup();
    const { cookie, userId } = await web.signUp("ada@example.com");
    expect(cookie).toMatch(/^better-auth\.session_token=/);
    const socket = await open(realtime.url, cookie);
    const { data, rooms } = await ask<{ data: { userId: string; session: BetterAuthSession }; rooms: string[] }>(
      socket,
      "whoami",
    );
    expect(data.userId).toBe(userId);
    expect(data.session.user).toMatchObject({ id: userId, email: "ada@example.com" });
    expect(data.session.session.userId).toBe(userId);
    expect(data.session.session).not.toHaveProperty("token");
    expect(rooms.sort()).toEqual([`user:${userId}`, sessionRoom(tokenOf(cookie))].sort());
    expect(JSON.stringify({ data, rooms })).not.toContain(tokenOf(cookie));
  });

  it("makes one lookup for three handshakes of a followed session and writes nothing: the session row, its expiresAt and updatedAt unchanged, no cookie set", async () => {
    const { db, web, realtime, lookups, headers } = await setup();
    const { cookie } = await web.signUp("bob@example.com");
    const before = structuredClone(db.session);
    expect(before).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      const socket = await open(realtime.url, cookie);
      await ask(socket, "whoami");
    }
    // One lookup, shared by the next two handshakes of the followed session (sharedReadMaxAge, issue 22).
    expect(lookups()).toBe(1);
    expect(db.session).toEqual(before);
    expect(headers.length).toBeGreaterThan(0);
    for (const h of headers) expect(Object.keys(h).map((k) => k.toLowerCase())).not.toContain("set-cookie");
  });

  it("refuses with typed codes: no cookie, a forged or edited cookie, a valid signature over an unknown token", async () => {
    const { web, realtime, errors } = await setup();
    const { cookie } = await web.signUp("eve@example.com");
    expect((await refusal(realtime.url, {})).message).toBe("NO_SESSION_COOKIE");
    // The signature's last character changed (to "B" where it was "A": always an edit, never the same cookie).
    const forged = cookie.replace(/(.)%3D$/, (_, last: string) => `${last === "A" ? "B" : "A"}%3D`);
    expect(forged).not.toBe(cookie);
    expect((await refusal(realtime.url, { cookie: forged })).message).toBe("BAD_SIGNATURE");
    const value = decodeURIComponent(cookie.split("=").slice(1).join("="));
    const edited = `better-auth.session_token=${encodeURIComponent(`x${value}`)}`;
    expect((await refusal(realtime.url, { cookie: edited })).message).toBe("BAD_SIGNATURE");
    const { signSessionCookie } = await import("socket.io-session-auth/testing");
    const garbage = signSessionCookie({
      value: "not-a-token-of-this-database",
      secret: "better-auth-test-secret-0123456789abcdef",
      name: "better-auth.session_token",
      signing: "better-auth",
    });
    expect((await refusal(realtime.url, { cookie: garbage })).message).toBe("SESSION_NOT_FOUND");
    expect(errors.map((e) => e.code)).toEqual([
      "NO_SESSION_COOKIE",
      "BAD_SIGNATURE",
      "BAD_SIGNATURE",
      "SESSION_NOT_FOUND",
    ]);
    for (const error of errors) expect(error.message).not.toContain(tokenOf(cookie));
  });

  it("diagnoses a wrong secret in the socket server, in words that name the fix", async () => {
    const { web, realtime, errors } = await setup({
      realtimeAuth: { secret: "another-secret-entirely-0123456789abcdef" },
    });
    const { cookie } = await web.signUp("carol@example.com");
    expect((await refusal(realtime.url, { cookie })).message).toBe("BAD_SIGNATURE");
    expect(errors[0]!.message).toContain("BETTER_AUTH_SECRET");
    expect(errors[0]!.message).not.toContain("another-secret");
  });

  it("diagnoses a socket server set up for https (__Secure- cookie) reached over plain http", async () => {
    const { web, realtime, errors } = await setup({ realtimeAuth: { baseURL: "https://app.example.com" } });
    const { cookie } = await web.signUp("dan@example.com");
    // The page is on plain http: the browser never stored, nor sends, a __Secure- cookie.
    expect((await refusal(realtime.url, { cookie: "theme=dark", origin: realtime.url })).message).toBe(
      "NO_SESSION_COOKIE",
    );
    expect(errors[0]!.message).toContain('"__Secure-better-auth.session_token"');
    expect(errors[0]!.message).toContain("this handshake came over plain http");
    // The web app writes the plain name (its baseURL is http) while this server expects the https one.
    expect((await refusal(realtime.url, { cookie })).message).toBe("NO_SESSION_COOKIE");
    expect(errors[1]!.message).toContain('Only "better-auth.session_token" came');
  });

  it("a web app on an https baseURL writes __Secure-better-auth.session_token, and a socket server set up the same accepts it", async () => {
    const https = { baseURL: "https://app.example.com" };
    const { web, realtime, errors } = await setup({ web: https, realtimeAuth: https });
    const { cookie, userId } = await web.signUp("tls@example.com");
    // What Better Auth itself wrote (its Set-Cookie), not a name made up here.
    expect(cookie).toMatch(/^__Secure-better-auth\.session_token=/);
    // The __Secure- prefix is a browser's rule (sent over https only): the core reads the cookie the store
    // declares whatever the transport, and weighs the transport only in diagnoses. Over loopback http, and
    // as a TLS-terminating proxy forwards it (X-Forwarded-Proto), both read.
    const socket = await open(realtime.url, cookie);
    expect((await ask<{ data: { userId: string } }>(socket, "whoami")).data.userId).toBe(userId);
    const direct = await connect(realtime.url, { extraHeaders: { cookie, "x-forwarded-proto": "https" } });
    opened.push({ close: () => direct.disconnect() });
    expect((await ask<{ data: { userId: string } }>(direct, "whoami")).data.userId).toBe(userId);
    expect(errors).toEqual([]);
  });

  it("versioned `secrets`: a session signed with the current secret is read; one signed with a retired current secret is refused, as Better Auth's own getSession refuses it", async () => {
    // better-auth 1.7 signs the session cookie with `secrets[0]` and verifies it with that one only
    // (create-context: `secret = secretsArray[0].value`; setSignedCookie/getSignedCookie take that secret).
    const v1 = { version: 1, value: "the first BETTER_AUTH_SECRETS entry, 32+ characters" };
    const v2 = { version: 2, value: "the second BETTER_AUTH_SECRETS entry, 32+ chars" };
    const rotated = { secret: undefined, secrets: [v2, v1] };
    const { web, realtime, errors } = await setup({ web: rotated, realtimeAuth: rotated });
    const { cookie, userId } = await web.signUp("rot@example.com");
    const socket = await open(realtime.url, cookie);
    expect((await ask<{ data: { userId: string } }>(socket, "whoami")).data.userId).toBe(userId);

    // A cookie signed before the rotation (v1 was current): the same session token, the old signature.
    const { signSessionCookie } = await import("socket.io-session-auth/testing");
    const old = signSessionCookie({
      value: tokenOf(cookie),
      secret: v1.value,
      name: "better-auth.session_token",
      signing: "better-auth",
    });
    expect(await web.auth.api.getSession({ headers: new Headers({ cookie: old }) })).toBeNull();
    expect(await web.auth.api.getSession({ headers: new Headers({ cookie }) })).toMatchObject({ user: { id: userId } });
    expect((await refusal(realtime.url, { cookie: old })).message).toBe("BAD_SIGNATURE");
    expect(errors.map((e) => e.code)).toEqual(["BAD_SIGNATURE"]);
  });

  it("honours advanced.cookiePrefix", async () => {
    const { web, realtime } = await setup({
      web: { advanced: { cookiePrefix: "myapp" } },
      realtimeAuth: { advanced: { cookiePrefix: "myapp" } },
    });
    const { cookie, userId } = await web.signUp("pat@example.com");
    expect(cookie).toMatch(/^myapp\.session_token=/);
    const socket = await open(realtime.url, cookie);
    expect((await ask<{ data: { userId: string } }>(socket, "whoami")).data.userId).toBe(userId);
  });
});

describe("Better Auth: the session lifecycle", () => {
  it("sign-out through Better Auth's handler ends the socket, through its session delete hook", async () => {
    const { web, realtime, ends } = await setup();
    const { cookie } = await web.signUp("sam@example.com");
    const socket = await open(realtime.url, cookie);
    const ended = ending(socket);
    await web.signOut(cookie);
    expect(await ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    expect(ends.map((e) => e.code)).toEqual(["SESSION_NOT_FOUND"]);
    expect((await refusal(realtime.url, { cookie })).message).toBe("SESSION_NOT_FOUND");
  });

  it("ends the socket when the session's expiresAt passes", async () => {
    const { web, realtime, ends } = await setup({
      web: { session: { expiresIn: 2 } },
      realtimeAuth: { session: { expiresIn: 2 } },
    });
    const { cookie } = await web.signUp("exp@example.com");
    const socket = await open(realtime.url, cookie);
    const started = Date.now();
    expect(await ending(socket)).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(ends.map((e) => e.code)).toEqual(["SESSION_EXPIRED"]);
    expect((await refusal(realtime.url, { cookie })).message).toBe("SESSION_EXPIRED");
  });

  it("endUser signs a user out everywhere: every session's sockets end", async () => {
    const { web, realtime, auth } = await setup();
    const { cookie, userId } = await web.signUp("many@example.com");
    const second = await web.signIn("many@example.com");
    expect(tokenOf(second)).not.toBe(tokenOf(cookie));
    const a = await open(realtime.url, cookie);
    const b = await open(realtime.url, second);
    const endings = [ending(a), ending(b)];
    await auth.endUser(realtime.io, userId);
    for (const ended of await Promise.all(endings)) expect(ended.event).toEqual({ code: "UNAUTHENTICATED" });
  });

  it("re-reads through Better Auth (reload), and refuses update with a TypeError saying why", async () => {
    const { web, realtime, lookups } = await setup();
    const { cookie } = await web.signUp("up@example.com");
    const socket = await open(realtime.url, cookie);
    const reply = await ask<{ ok: boolean; name: string; message: string }>(socket, "update");
    expect(reply).toMatchObject({ ok: false, name: "TypeError" });
    expect(reply.message).toContain("Better Auth offers no atomic compare-and-set");
    expect(lookups()).toBe(1);
  });
});

describe("betterAuthStore at construction", () => {
  it("refuses a Better Auth with no database nor secondaryStorage (the cookie cache alone)", async () => {
    const stateless = makeBetterAuth(emptyDb(), {
      database: undefined,
      session: { cookieCache: { enabled: true, maxAge: 300 } },
    });
    await expect(betterAuthStore(stateless)).rejects.toThrow(/neither `database` nor `secondaryStorage`/);
  });

  it("refuses what is not a Better Auth instance", async () => {
    await expect(betterAuthStore({} as never)).rejects.toThrow(/pass your Better Auth instance/);
  });

  it("an outage of Better Auth's storage is STORE_UNAVAILABLE (retryable), and the next handshake recovers", async () => {
    const { storage: secondaryStorage, state } = memorySecondaryStorage();
    const { web, realtime, errors } = await setup({ web: { secondaryStorage }, realtimeAuth: { secondaryStorage } });
    const { cookie } = await web.signUp("down@example.com");
    state.down = true;
    const failure = await refusal(realtime.url, { cookie });
    expect(failure.message).toBe("STORE_UNAVAILABLE");
    expect(failure.data).toEqual({ code: "STORE_UNAVAILABLE", retryable: true });
    expect(errors[0]!.message).not.toContain(tokenOf(cookie));
    state.down = false;
    const socket = await open(realtime.url, cookie);
    expect(socket.connected).toBe(true);
  });

  it("reads sessions from secondaryStorage too, with no write", async () => {
    const { storage: secondaryStorage, kv } = memorySecondaryStorage();
    const { web, realtime } = await setup({ web: { secondaryStorage }, realtimeAuth: { secondaryStorage } });
    const { cookie, userId } = await web.signUp("kv@example.com");
    const before = new Map(kv);
    const socket = await open(realtime.url, cookie);
    expect((await ask<{ data: { userId: string } }>(socket, "whoami")).data.userId).toBe(userId);
    expect(kv).toEqual(before);
  });
});
