import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, sessionRoom } from "socket.io-session-auth";
import { ironSessionStore } from "socket.io-session-auth/iron-session";
import { startIronSessionApp } from "../../support/iron-session-app.js";
import { ask, connect, ending, refusal, serveWhoami, startRealtime, type WhoAmI } from "../../support/realtime.js";

// iron-session's `~2` version suffix is outside the seal's HMAC, and iron-session reads past it (9 ignores
// what follows `~`; 8 reads the leading number only): a copy of the cookie with the suffix cut or extended
// is the same authentic session. It must be the same session here too: one session key and room, and
// endSession with the cookie as iron-session wrote it ends every copy's sockets.

const PASSWORD = "complex_password_at_least_32_characters_long";
const COOKIE = "app_session";

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

async function setUp(version: 8 | 9) {
  const app = await startIronSessionApp({ password: PASSWORD, cookieName: COOKIE, version });
  opened.push(app);
  const auth = sessionAuth<Record<string, unknown>>({
    store: ironSessionStore({ password: PASSWORD, cookieName: COOKIE }),
  });
  const server = await startRealtime((io) => {
    auth.attach(io);
    serveWhoami(io);
  });
  opened.push(server, { close: () => auth.close() });
  const seal = decodeURIComponent((await app.login("42")).cookies.get(COOKIE)!);
  expect(seal).toMatch(/^Fe26\.2\*[^~]+~2$/);
  return { auth, server, seal };
}

describe.each([9, 8] as const)("iron-session %i: a seal's ~version suffix does not make another session", (version) => {
  it("cut, changed or extended: the same room; endSession with the original cookie ends every copy", async () => {
    const { auth, server, seal } = await setUp(version);
    const bare = seal.slice(0, seal.indexOf("~"));
    // What iron-session itself accepts as this session: v9 any suffix, v8 a suffix whose leading number is 2.
    const copies = version === 9 ? [seal, bare, `${bare}~3`, `${seal}~junk`] : [seal, `${seal}~junk`, `${seal}0`];
    const sockets = [];
    for (const value of copies) {
      const socket = await connect(server.url, { cookie: `${COOKIE}=${value}` });
      const me = await ask<WhoAmI>(socket, "whoami");
      expect(me.userId).toBe("42");
      // Every copy in the room of the cookie as iron-session wrote it.
      expect(me.rooms).toContain(sessionRoom(seal));
      sockets.push(socket);
    }
    const ends = sockets.map((socket) => ending(socket));
    await auth.endSession(server.io, seal);
    for (const ended of await Promise.all(ends)) {
      expect(ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    }
  });

  it("endSession with an edited copy's value reaches the original's socket too", async () => {
    const { auth, server, seal } = await setUp(version);
    const socket = await connect(server.url, { cookie: `${COOKIE}=${seal}` });
    const ended = ending(socket);
    await auth.endSession(server.io, `${seal}~junk`);
    expect(await ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
  });

  it("the seal itself stays authenticated: an edit inside it is still refused", async () => {
    const { server, seal } = await setUp(version);
    const at = seal.indexOf("~") - 3;
    const edited = seal.slice(0, at) + (seal[at] === "A" ? "B" : "A") + seal.slice(at + 1);
    expect((await refusal(server.url, { cookie: `${COOKIE}=${edited}` })).data).toEqual({
      code: "SESSION_NOT_FOUND",
      retryable: false,
    });
  });
});
