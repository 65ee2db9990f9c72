import { UnstorageAdapter } from "@auth/unstorage-adapter";
import { createStorage } from "unstorage";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, sessionRoom, userRoom } from "socket.io-session-auth";
import {
  authjsStore,
  type AuthjsDatabaseSession,
  type AuthjsJwt,
  type AuthjsJwtOptions,
} from "socket.io-session-auth/authjs";
import { startNextAuth4App, type NextAuth4AppOptions } from "../../support/next-auth4-app.js";
import { ask, connect, ending, refusal, serveWhoami, startRealtime, type WhoAmI } from "../../support/realtime.js";

// NextAuth.js v4, signed in for real: next-auth 4's own handler (`NextAuth(req, res, options)`, as a
// Pages Router API route runs it) on node:http writes the `next-auth.session-token` cookie; a socket.io
// server reads it with authjsStore({ version: 4 }), which decrypts with next-auth/jwt's own decode.

const SECRET = "the web app's NEXTAUTH_SECRET, 32 characters or more";

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

async function realtime(options: AuthjsJwtOptions) {
  const errors: Error[] = [];
  const auth = sessionAuth<AuthjsJwt>({ store: authjsStore(options), onError: (error) => void errors.push(error) });
  const server = await startRealtime((io) => {
    auth.attach(io);
    serveWhoami(io, (socket) => ({ session: socket.data.session }));
  });
  opened.push(server, { close: () => auth.close() });
  return { ...server, auth, errors };
}

async function webApp(options: Partial<NextAuth4AppOptions> = {}) {
  const app = await startNextAuth4App({ secret: SECRET, ...options });
  opened.push(app);
  return app;
}

describe("NextAuth.js v4 JWT sessions, signed in through next-auth 4's own handler", () => {
  it("the socket is the signed-in user's: socket.data, the user and session rooms", async () => {
    const app = await webApp();
    const jar = await app.signIn("ada");
    expect(jar.names()).toContain("next-auth.session-token");
    const server = await realtime({ secret: SECRET, version: 4 });
    const socket = await connect(server.url, { cookie: jar.header() });
    const me = await ask<WhoAmI & { session: AuthjsJwt }>(socket, "whoami");
    expect(me.userId).toBe("id-ada");
    expect(me.session).toMatchObject({ sub: "id-ada", name: "ada", email: "ada@example.com" });
    const token = jar.cookies.get("next-auth.session-token")!;
    expect(me.rooms.sort()).toEqual([sessionRoom(token), userRoom("id-ada")].sort());
    expect(JSON.stringify(me)).not.toContain(token.slice(0, 40));
    socket.close();
  });

  it("refusals: a wrong password sets no session; no cookie; another secret; a v5 store names `version: 4`", async () => {
    const app = await webApp();
    expect((await app.signIn("ada", "wrong")).names()).not.toContain("next-auth.session-token");
    const jar = await app.signIn("ada");
    const server = await realtime({ secret: SECRET, version: 4 });
    expect((await refusal(server.url)).message).toBe("NO_SESSION_COOKIE");
    const other = await realtime({ secret: "another secret, 32 characters or more", version: 4 });
    expect((await refusal(other.url, { cookie: jar.header() })).message).toBe("SESSION_NOT_FOUND");
    const v5 = await realtime({ secret: SECRET });
    expect((await refusal(v5.url, { cookie: jar.header() })).message).toBe("SESSION_NOT_FOUND");
    expect(v5.errors.map((error) => String((error.cause as Error | undefined)?.message))).toEqual([
      expect.stringContaining("pass `version: 4`"),
    ]);
  });

  it("a big session comes in chunks (next-auth.session-token.0, .1): read whole", async () => {
    const app = await webApp({ claims: { notes: "n".repeat(5000) } });
    const jar = await app.signIn("ada");
    expect(
      jar
        .names()
        .filter((name) => name.startsWith("next-auth.session-token"))
        .sort(),
    ).toEqual(["next-auth.session-token.0", "next-auth.session-token.1"]);
    const server = await realtime({ secret: SECRET, version: 4 });
    const socket = await connect(server.url, { cookie: jar.header() });
    const me = await ask<WhoAmI & { session: AuthjsJwt }>(socket, "whoami");
    expect(me.userId).toBe("id-ada");
    expect(me.session.notes).toHaveLength(5000);
    socket.close();
  });

  it("sign-out: next-auth's events.signOut calling endUser ends the user's sockets; a copy of the cookie still connects", async () => {
    // The web app's sign-out event reaches the socket.io server's auth (here in one process).
    const signedOut: { endUser?: (userId: string) => Promise<unknown> } = {};
    const app = await webApp({
      onSignOut: async ({ token }) => {
        if (token?.sub !== undefined) await signedOut.endUser?.(token.sub);
      },
    });
    const server = await realtime({ secret: SECRET, version: 4 });
    signedOut.endUser = (userId) => server.auth.endUser(server.io, userId);
    const jar = await app.signIn("ada");
    const copy = jar.header();
    const socket = await connect(server.url, { cookie: copy });
    const ended = ending(socket);
    await app.signOut(jar);
    expect(jar.names()).not.toContain("next-auth.session-token");
    expect(await ended).toEqual({ event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" });
    // A JWT session cannot be revoked before it expires: the copied cookie is still a valid session.
    const again = await connect(server.url, { cookie: copy });
    expect((await ask<WhoAmI>(again, "whoami")).userId).toBe("id-ada");
    again.close();
  });
});

describe("NextAuth.js v4 database sessions, signed in by email link through next-auth 4's own handler", () => {
  // Auth.js's unstorage adapter has the method names and shapes next-auth 4's adapter interface asks for
  // (createUser, createSession, getSessionAndUser, deleteSession, the verification tokens...).
  it("the socket is the user's, looked up through the adapter; sign-out deletes the row and the socket ends at the next re-read", async () => {
    const adapter = UnstorageAdapter(createStorage());
    const app = await webApp({ adapter });
    const jar = await app.signIn("ada");
    const token = jar.cookies.get("next-auth.session-token")!;
    expect(token).toMatch(/^[\w-]{20,}$/); // a database token, not a JWE
    const auth = sessionAuth<AuthjsDatabaseSession>({ store: authjsStore({ adapter, version: 4 }), revalidate: 300 });
    const server = await startRealtime((io) => {
      auth.attach(io);
      serveWhoami(io, (socket) => ({ session: socket.data.session }));
    });
    opened.push(server, { close: () => auth.close() });
    const socket = await connect(server.url, { cookie: jar.header() });
    const me = await ask<WhoAmI & { session: AuthjsDatabaseSession }>(socket, "whoami");
    expect(me.session.user).toMatchObject({ email: "ada@example.com" });
    expect(me.userId).toBe(me.session.user.id);
    expect(me.rooms.sort()).toEqual([sessionRoom(token), userRoom(me.userId!)].sort());
    expect(JSON.stringify(me)).not.toContain(token);

    const copy = jar.header();
    const ended = ending(socket);
    await app.signOut(jar);
    expect(await ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    expect((await refusal(server.url, { cookie: copy })).message).toBe("SESSION_NOT_FOUND");
  });
});
