import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, sessionRoom, userRoom, type SessionAuthOptions } from "socket.io-session-auth";
import { ironSessionStore, type IronSessionStoreOptions } from "socket.io-session-auth/iron-session";
import { acceptIronSessions } from "../../../docs/examples/iron-session.js";
import { startIronSessionApp, type IronSessionAppOptions } from "../../support/iron-session-app.js";
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

const PASSWORD = "complex_password_at_least_32_characters_long";
const OLD_PASSWORD = "the_password_before_rotation_also_32_chars";
const COOKIE = "app_session";

type Session = Record<string, unknown>;

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

async function realtime(options: IronSessionStoreOptions, extra: Partial<SessionAuthOptions<Session>> = {}) {
  const store = ironSessionStore(options);
  const errors: Error[] = [];
  const auth = sessionAuth<Session>({ store, onError: (error) => void errors.push(error), ...extra });
  const server = await startRealtime((io) => {
    auth.attach(io);
    serveWhoami(io, (socket) => ({ session: socket.data.session }));
  });
  opened.push(server, { close: () => auth.close() });
  return { ...server, auth, errors };
}

async function webApp(options: Partial<IronSessionAppOptions> = {}) {
  const app = await startIronSessionApp({ password: PASSWORD, cookieName: COOKIE, ...options });
  opened.push(app);
  return app;
}

describe.each([9, 8] as const)("iron-session %i sessions, logged in over HTTP", (version) => {
  it("the socket is the logged-in user's: socket.data, the user and session rooms", async () => {
    const app = await webApp({ version });
    const jar = await app.login("42", { name: "Ada" });
    const server = await realtime({ password: PASSWORD, cookieName: COOKIE });
    const socket = await connect(server.url, { cookie: jar.header() });
    const me = await ask<WhoAmI & { session: Session }>(socket, "whoami");
    expect(me.userId).toBe("42");
    expect(me.session).toEqual({ userId: "42", name: "Ada" });
    const seal = jar.cookies.get(COOKIE)!;
    expect(me.rooms.sort()).toEqual([sessionRoom(decodeURIComponent(seal)), userRoom("42")].sort());
    socket.close();
  });

  it("refusals: no cookie, a wrong password, an edited seal, after logout", async () => {
    const app = await webApp({ version });
    const jar = await app.login("42");
    const server = await realtime({ password: PASSWORD, cookieName: COOKIE });
    expect((await refusal(server.url)).message).toBe("NO_SESSION_COOKIE");
    const wrong = await realtime({ password: OLD_PASSWORD, cookieName: COOKIE });
    expect((await refusal(wrong.url, { cookie: jar.header() })).message).toBe("SESSION_NOT_FOUND");
    const seal = jar.cookies.get(COOKIE)!;
    const edited = `${COOKIE}=${seal.replace(/\*[^*]{8}/, "*AAAAAAAA")}`;
    expect((await refusal(server.url, { cookie: edited })).data).toEqual({
      code: "SESSION_NOT_FOUND",
      retryable: false,
    });
    const copied = jar.header();
    await app.logout(jar);
    expect(jar.names()).not.toContain(COOKIE);
    expect((await refusal(server.url, { cookie: jar.header() })).message).toBe("NO_SESSION_COOKIE");
    // Stateless: the seal itself stays valid until its ttl; a copy of it still connects.
    const again = await connect(server.url, { cookie: copied });
    again.close();
  });
});

describe("iron-session, rotation, expiry, ends", () => {
  it("a password map reads seals of the old password while the web app seals with the new one", async () => {
    const oldApp = await webApp({ password: { 1: OLD_PASSWORD } });
    const newApp = await webApp({ password: { 1: OLD_PASSWORD, 2: PASSWORD } });
    const server = await realtime({ password: { 1: OLD_PASSWORD, 2: PASSWORD }, cookieName: COOKIE });
    for (const app of [oldApp, newApp]) {
      const socket = await connect(server.url, { cookie: (await app.login("7")).header() });
      expect((await ask<WhoAmI>(socket, "whoami")).userId).toBe("7");
      socket.close();
    }
    const newOnly = await realtime({ password: { 2: PASSWORD }, cookieName: COOKIE });
    expect((await refusal(newOnly.url, { cookie: (await oldApp.login("7")).header() })).message).toBe(
      "SESSION_NOT_FOUND",
    );
  });

  it("the session ends for its sockets when the seal's ttl passes; endUser ends them at once", async () => {
    const app = await webApp({ ttl: 2 });
    const jar = await app.login("42");
    const server = await realtime({ password: PASSWORD, cookieName: COOKIE });
    const socket = await connect(server.url, { cookie: jar.header() });
    const ended = await ending(socket);
    expect(ended).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });

    const long = await webApp({ ttl: 3600 });
    const live = await connect(server.url, { cookie: (await long.login("43")).header() });
    const endedByUser = ending(live);
    await server.auth.endUser(server.io, "43");
    expect(await endedByUser).toEqual({ event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" });
  });

  it("iron-session 9's chunk: true splits a big session over name.0, name.1...: read whole; a gap is MALFORMED_COOKIE", async () => {
    const app = await webApp({ chunk: true });
    const jar = await app.login("42", { notes: "n".repeat(5000) });
    expect(jar.names().sort()).toEqual([`${COOKIE}.0`, `${COOKIE}.1`]);
    const server = await realtime({ password: PASSWORD, cookieName: COOKIE });
    const socket = await connect(server.url, { cookie: jar.header() });
    const me = await ask<WhoAmI & { session: Session }>(socket, "whoami");
    expect(me.userId).toBe("42");
    expect(me.session.notes).toHaveLength(5000);
    socket.close();
    jar.cookies.delete(`${COOKIE}.0`);
    expect((await refusal(server.url, { cookie: jar.header() })).message).toBe("MALFORMED_COOKIE");
  });
});

describe("docs/examples/iron-session.ts, as the iron-session page shows it", () => {
  it("acceptIronSessions greets the logged-in user", async () => {
    const app = await webApp();
    const jar = await app.login("42");
    const server = await startRealtime((io) => acceptIronSessions(io, PASSWORD));
    opened.push(server);
    expect(await firstEvent(server.url, "hello", { cookie: jar.header() })).toEqual({ userId: "42" });
  });
});
