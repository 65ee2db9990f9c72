import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth } from "socket.io-session-auth";
import { ironSessionStore } from "socket.io-session-auth/iron-session";
import { startIronSessionApp } from "../../support/iron-session-app.js";
import { ask, connect, startRealtime } from "../../support/realtime.js";

// auth.update() on an iron-session session: the seal in the browser's cookie is the only copy. The
// TypeError must say so, and what to do instead.

const PASSWORD = "complex_password_at_least_32_characters_long";
const COOKIE = "app_session";

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

describe("iron-session: auth.update() says why it cannot, and what to do", () => {
  it("a TypeError naming the sealed cookie as the only copy, session.save() in the web app and a reconnect", async () => {
    const app = await startIronSessionApp({ password: PASSWORD, cookieName: COOKIE });
    opened.push(app);
    const jar = await app.login("42", { cart: ["apple"] });
    const auth = sessionAuth<Record<string, unknown>>({
      store: ironSessionStore({ password: PASSWORD, cookieName: COOKIE }),
    });
    const mutated: unknown[] = [];
    const server = await startRealtime((io) => {
      auth.attach(io);
      io.on("connection", (socket) => {
        socket.on("update", (ack: (reply: { error: string; session: unknown }) => void) => {
          auth
            .update(socket, (session) => void mutated.push(session))
            .then(
              () => ack({ error: "none", session: socket.data.session }),
              (error: unknown) => ack({ error: String(error), session: socket.data.session }),
            );
        });
      });
    });
    opened.push(server, { close: () => auth.close() });
    const socket = await connect(server.url, { cookie: jar.header() });
    const reply = await ask<{ error: string; session: unknown }>(socket, "update");
    expect(reply.error).toMatch(/^TypeError: update: store "iron-session" cannot write a session back/);
    expect(reply.error).toContain("lives sealed in the browser's cookie");
    expect(reply.error).toContain("session.save()");
    expect(reply.error).toContain("have the client reconnect");
    expect(reply.error).not.toContain(jar.cookies.get(COOKIE)!.slice(-40)); // never the seal
    expect(mutated).toEqual([]);
    expect(reply.session).toEqual({ userId: "42", cart: ["apple"] });
    socket.close();
  });
});
