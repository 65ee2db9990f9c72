import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, sessionRoom, userRoom, type SessionAuthOptions } from "socket.io-session-auth";
import { authjsStore, type AuthjsJwt, type AuthjsJwtOptions } from "socket.io-session-auth/authjs";
import { acceptAuthjsSessions } from "../../../docs/examples/authjs.js";
import { startAuthjsApp, type CookieJar } from "../../support/authjs-app.js";
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
const OLD_SECRET = "the AUTH_SECRET before the last rotation, long too";

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

/**
 * A socket.io server reading Auth.js sessions in one line: the store declares its cookie (names,
 * chunks, no signature of its own) and that its user id is `sub`.
 */
async function realtime(options: AuthjsJwtOptions, extra: Partial<SessionAuthOptions<AuthjsJwt>> = {}) {
  const store = authjsStore(options);
  const errors: Error[] = [];
  const auth = sessionAuth<AuthjsJwt>({ store, onError: (error) => void errors.push(error), ...extra });
  const server = await startRealtime((io) => {
    auth.attach(io);
    serveWhoami(io, (socket) => ({ session: socket.data.session }));
  });
  opened.push(server, { close: () => auth.close() });
  return { ...server, auth, errors };
}

async function webApp(options: Parameters<typeof startAuthjsApp>[0]) {
  const app = await startAuthjsApp(options);
  opened.push(app);
  return app;
}

const cookie = (jar: CookieJar) => jar.header();

describe("Auth.js v5 JWT sessions, signed in through @auth/express", () => {
  it("the socket is the signed-in user's: socket.data, the user and session rooms", async () => {
    const app = await webApp({ secret: SECRET });
    const jar = await app.signIn("ada");
    const server = await realtime({ secret: SECRET });
    const socket = await connect(server.url, { cookie: cookie(jar) });
    const me = await ask<WhoAmI & { session: AuthjsJwt }>(socket, "whoami");
    expect(me.userId).toBe("id-ada");
    expect(me.session).toMatchObject({ sub: "id-ada", name: "ada", email: "ada@example.com" });
    const token = jar.cookies.get("authjs.session-token")!;
    expect(me.rooms.sort()).toEqual([sessionRoom(token), userRoom("id-ada")].sort());
    expect(JSON.stringify(me)).not.toContain(token.slice(0, 40));
    socket.close();
  });

  it("refusals: no cookie, a wrong secret, an edited cookie, a signed-out browser", async () => {
    const app = await webApp({ secret: SECRET });
    const jar = await app.signIn("ada");
    const server = await realtime({ secret: SECRET });
    expect((await refusal(server.url)).message).toBe("NO_SESSION_COOKIE");
    const wrong = await realtime({ secret: "another app's secret, long enough to pass" });
    expect((await refusal(wrong.url, { cookie: cookie(jar) })).message).toBe("SESSION_NOT_FOUND");
    const token = jar.cookies.get("authjs.session-token")!;
    const edited = `authjs.session-token=${token.slice(0, -8)}AAAAAAAA`;
    expect((await refusal(server.url, { cookie: edited })).data).toEqual({
      code: "SESSION_NOT_FOUND",
      retryable: false,
    });
    await app.signOut(jar);
    expect(jar.names().some((name) => name.startsWith("authjs.session-token"))).toBe(false);
    expect((await refusal(server.url, { cookie: cookie(jar) })).message).toBe("NO_SESSION_COOKIE");
  });

  it("rotation: cookies issued under the old secret still read while both are listed", async () => {
    const app = await webApp({ secret: OLD_SECRET });
    const jar = await app.signIn("ada");
    const both = await realtime({ secret: [SECRET, OLD_SECRET] });
    const socket = await connect(both.url, { cookie: cookie(jar) });
    expect((await ask<WhoAmI>(socket, "whoami")).userId).toBe("id-ada");
    socket.close();
    const newOnly = await realtime({ secret: SECRET });
    expect((await refusal(newOnly.url, { cookie: cookie(jar) })).message).toBe("SESSION_NOT_FOUND");
  });

  it("a JWT session cannot be revoked before exp: the copied cookie still connects after sign-out; endUser ends the sockets", async () => {
    const app = await webApp({ secret: SECRET });
    const jar = await app.signIn("ada");
    const copied = cookie(jar); // what a stolen or still-open tab holds
    const server = await realtime({ secret: SECRET });
    const socket = await connect(server.url, { cookie: copied });
    await app.signOut(jar);
    const again = await connect(server.url, { cookie: copied });
    expect((await ask<WhoAmI>(again, "whoami")).userId).toBe("id-ada");
    const ended = [ending(socket), ending(again)];
    await server.auth.endUser(server.io, "id-ada");
    for (const each of await Promise.all(ended)) {
      expect(each).toEqual({ event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" });
    }
  });

  it("the session ends for its sockets when the JWT's exp passes", async () => {
    const app = await webApp({ secret: SECRET, maxAge: 2 });
    const jar = await app.signIn("ada");
    const server = await realtime({ secret: SECRET });
    const socket = await connect(server.url, { cookie: cookie(jar) });
    const started = Date.now();
    const ended = await ending(socket);
    expect(ended).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await refusal(server.url, { cookie: cookie(jar) })).message).toBe("SESSION_EXPIRED");
  });

  it("a session over 4 KB comes in chunks (.0, .1, .2), read whole; a missing chunk is MALFORMED_COOKIE naming it", async () => {
    const app = await webApp({ secret: SECRET, claims: { roles: "r".repeat(6000) } });
    const jar = await app.signIn("ada");
    expect(jar.names().filter((name) => name.startsWith("authjs.session-token."))).toHaveLength(3);
    const server = await realtime({ secret: SECRET });
    const socket = await connect(server.url, { cookie: jar.header() });
    const me = await ask<WhoAmI & { session: AuthjsJwt }>(socket, "whoami");
    expect(me.userId).toBe("id-ada");
    expect(me.session.roles).toHaveLength(6000);
    socket.close();
    jar.cookies.delete("authjs.session-token.1");
    expect((await refusal(server.url, { cookie: jar.header() })).message).toBe("MALFORMED_COOKIE");
    expect(server.errors.at(-1)?.message).toContain('"authjs.session-token.1" is missing');
  });

  it("__Secure- cookies decode with their own name as salt; secure: false over them says what to change", async () => {
    const app = await webApp({ secret: SECRET, useSecureCookies: true });
    const jar = await app.signIn("ada");
    expect(jar.names()).toContain("__Secure-authjs.session-token");
    const server = await realtime({ secret: SECRET });
    const socket = await connect(server.url, { cookie: jar.header() });
    expect((await ask<WhoAmI>(socket, "whoami")).userId).toBe("id-ada");
    socket.close();
    const plainOnly = await realtime({ secret: SECRET, secure: false });
    expect((await refusal(plainOnly.url, { cookie: jar.header() })).message).toBe("NO_SESSION_COOKIE");
    expect(plainOnly.errors.at(-1)?.message).toMatch(/__Secure-authjs\.session-token/);
  });

  it("a NextAuth v4 cookie at a v5 server is refused, and the diagnosis names `version: 4`", async () => {
    const app = await webApp({ secret: SECRET });
    const jar = await app.signIn("ada");
    const v4 = `next-auth.session-token=${jar.cookies.get("authjs.session-token")}`;
    const server = await realtime({ secret: SECRET });
    expect((await refusal(server.url, { cookie: v4 })).message).toBe("SESSION_NOT_FOUND");
    const cause = (server.errors.at(-1) as Error & { cause?: Error }).cause;
    expect(cause?.message).toMatch(/NextAuth\.js v4 session cookie.*`version: 4`/);
  });
});

describe("docs/examples/authjs.ts, as the Auth.js page shows it", () => {
  it("acceptAuthjsSessions greets the signed-in user", async () => {
    const app = await webApp({ secret: SECRET });
    const jar = await app.signIn("ada");
    const server = await startRealtime((io) => acceptAuthjsSessions(io, SECRET));
    opened.push(server);
    expect(await firstEvent(server.url, "hello", { cookie: jar.header() })).toEqual({ userId: "id-ada" });
  });
});
