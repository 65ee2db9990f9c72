import { UnstorageAdapter } from "@auth/unstorage-adapter";
import { createStorage } from "unstorage";
import { afterEach, describe, expect, it } from "vitest";
import type { Adapter } from "@auth/core/adapters";
import type { Server } from "socket.io";
import { sessionAuth, sessionRoom, userRoom, type SessionAuth, type SessionAuthOptions } from "socket.io-session-auth";
import { authjsStore, type AuthjsDatabaseSession } from "socket.io-session-auth/authjs";
import { acceptAuthjsDatabaseSessions, endSocketsAtSignOut } from "../../../docs/examples/authjs.js";
import { startAuthjsApp } from "../../support/authjs-app.js";
import {
  ask,
  connect,
  ending,
  firstEvent,
  refusal,
  serveWhoami,
  startRealtime,
  type WhoAmI,
} from "../../support/realtime.js";

const SECRET = "the web app's AUTH_SECRET: 32 characters or more";

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

/** Auth.js's own unstorage adapter over one in-memory storage: the web app and the socket server share it. */
function sharedDatabase() {
  const storage = createStorage();
  return { storage, adapter: UnstorageAdapter(storage) };
}

async function setup(extra: Partial<SessionAuthOptions<AuthjsDatabaseSession>> = {}, maxAge = 3600) {
  const { storage, adapter } = sharedDatabase();
  const app = await startAuthjsApp({ secret: SECRET, adapter, maxAge });
  opened.push(app);
  const store = authjsStore({ adapter });
  const auth = sessionAuth<AuthjsDatabaseSession>({ store, ...extra });
  const server = await startRealtime((io) => {
    auth.attach(io);
    serveWhoami(io, (socket) => ({ session: socket.data.session }));
  });
  opened.push(server, { close: () => auth.close() });
  return { app, storage, server, auth };
}

describe("Auth.js v5 database sessions, signed in by email link through @auth/express", () => {
  it("the socket is the user's: the session row looked up through the app's adapter, never the token in socket.data", async () => {
    const { app, server } = await setup();
    const jar = await app.signIn("ada");
    const token = jar.cookies.get("authjs.session-token")!;
    const socket = await connect(server.url, { cookie: jar.header() });
    const me = await ask<WhoAmI & { session: AuthjsDatabaseSession }>(socket, "whoami");
    expect(me.session.user).toMatchObject({ email: "ada@example.com" });
    expect(me.userId).toBe(me.session.user.id);
    expect(me.session.userId).toBe(me.session.user.id);
    expect(Date.parse(me.session.expires)).toBeGreaterThan(Date.now() + 3_000_000);
    expect(me.rooms.sort()).toEqual([sessionRoom(token), userRoom(me.userId!)].sort());
    expect(JSON.stringify(me)).not.toContain(token);
    socket.close();
  });

  it("sign-out deletes the row: new handshakes are refused and open sockets end at the next re-read", async () => {
    const { app, server } = await setup({ revalidate: 300 });
    const jar = await app.signIn("ada");
    const copied = jar.header();
    const socket = await connect(server.url, { cookie: copied });
    const ended = ending(socket);
    await app.signOut(jar);
    expect(await ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    expect((await refusal(server.url, { cookie: copied })).message).toBe("SESSION_NOT_FOUND");
    expect((await refusal(server.url, { cookie: "authjs.session-token=not-a-session" })).message).toBe(
      "SESSION_NOT_FOUND",
    );
  });

  it("SESSION_NOT_FOUND names the cookie that was read: a plain authjs.session-token, not the __Secure- name the store declares first", async () => {
    const errors: Error[] = [];
    const { server } = await setup({ onError: (error) => void errors.push(error) });
    const failure = await refusal(server.url, { cookie: "authjs.session-token=an-unknown-session-token" });
    expect(failure.message).toBe("SESSION_NOT_FOUND");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('(cookie "authjs.session-token")');
    expect(errors[0]!.message).not.toContain("__Secure-");
  });

  it("the session ends at the row's expires; a handshake never extends it", async () => {
    const { app, server, storage } = await setup({}, 2);
    const jar = await app.signIn("ada");
    const token = jar.cookies.get("authjs.session-token")!;
    const keys = await storage.getKeys();
    const before = JSON.stringify(await storage.getItem(keys.find((key) => key.includes(token))!));
    const socket = await connect(server.url, { cookie: jar.header() });
    expect(JSON.stringify(await storage.getItem(keys.find((key) => key.includes(token))!))).toBe(before);
    expect(await ending(socket)).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });
  });

  it("update() is a TypeError: the row holds no app data to write back", async () => {
    const { app, server, auth } = await setup();
    server.io.on("connection", (socket) => {
      socket.on("update", (ack: (value: unknown) => void) => {
        auth
          .update(socket, () => {})
          .then(
            () => ack("no error"),
            (error: unknown) => ack(String(error)),
          );
      });
    });
    const socket = await connect(server.url, { cookie: (await app.signIn("ada")).header() });
    const error = await ask<string>(socket, "update");
    expect(error).toMatch(/^TypeError: update: store "authjs \(v5, database\)" cannot write a session back/);
    // Why, and what to do instead.
    expect(error).toContain("holds only its token, the user id and the expiry");
    expect(error).toContain("adapter.updateUser");
    expect(error).toContain("auth.reload(socket)");
    socket.close();
  });
});

describe("docs/examples/authjs.ts, as the Auth.js page shows it", () => {
  it("acceptAuthjsDatabaseSessions greets the signed-in user, looked up through the adapter", async () => {
    const { adapter } = sharedDatabase();
    const app = await startAuthjsApp({ secret: SECRET, adapter });
    opened.push(app);
    const jar = await app.signIn("ada");
    const server = await startRealtime((io) => acceptAuthjsDatabaseSessions(io, adapter));
    opened.push(server);
    const hello = await firstEvent<{ userId: string }>(server.url, "hello", { cookie: jar.header() });
    expect(hello.userId).toMatch(/\S/);
  });
});

describe("docs/examples/authjs.ts endSocketsAtSignOut: Auth.js's events.signOut ends the session's sockets at once", () => {
  /** The socket server (revalidate at its 5-minute default: only the hook can end a socket within the test). */
  async function realtime(adapter: Adapter) {
    const auth = sessionAuth<AuthjsDatabaseSession>({ store: authjsStore({ adapter }) });
    const server = await startRealtime((io) => auth.attach(io));
    opened.push(server, { close: () => auth.close() });
    return { auth, server };
  }

  it("signing out through @auth/express ends the socket within a second, and the token is the id the hook passes", async () => {
    // An adapter whose deleteSession returns the deleted row, as Auth.js asks of adapters (the SQL ones
    // do); Auth.js hands that row to events.signOut. The unstorage adapter below it returns nothing.
    const { adapter: unstorage } = sharedDatabase();
    const adapter: Adapter = {
      ...unstorage,
      deleteSession: async (sessionToken) => {
        const found = await unstorage.getSessionAndUser!(sessionToken);
        await unstorage.deleteSession!(sessionToken);
        return found?.session ?? null;
      },
    };
    const late: { auth?: SessionAuth; io?: Server } = {};
    const app = await startAuthjsApp({
      secret: SECRET,
      adapter,
      events: { signOut: (message) => endSocketsAtSignOut(late.auth!, late.io!).signOut!(message) },
    });
    opened.push(app);
    const { auth, server } = await realtime(adapter);
    Object.assign(late, { auth, io: server.io });
    const jar = await app.signIn("ada");
    const socket = await connect(server.url, { cookie: jar.header() });
    const ended = ending(socket);
    const started = Date.now();
    await app.signOut(jar);
    expect(await ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    // Well within the 5-minute re-read: the hook ended it (bounded loosely, for a loaded machine).
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("with an adapter whose deleteSession returns nothing (unstorage's), the hook has no token: the socket stays until the re-read", async () => {
    const { adapter } = sharedDatabase();
    const messages: unknown[] = [];
    const late: { auth?: SessionAuth; io?: Server } = {};
    const app = await startAuthjsApp({
      secret: SECRET,
      adapter,
      events: {
        signOut: async (message) => {
          messages.push(message);
          await endSocketsAtSignOut(late.auth!, late.io!).signOut!(message);
        },
      },
    });
    opened.push(app);
    const { auth, server } = await realtime(adapter);
    Object.assign(late, { auth, io: server.io });
    const jar = await app.signIn("ada");
    const socket = await connect(server.url, { cookie: jar.header() });
    await app.signOut(jar);
    expect(messages).toEqual([{ session: undefined }]);
    expect(socket.connected).toBe(true);
    // The row is gone all the same: the next read (a handshake, or the periodic re-read) finds nothing.
    await auth.reload(server.io.sockets.sockets.values().next().value!).catch(() => {});
    await expect.poll(() => socket.connected).toBe(false);
  });
});
