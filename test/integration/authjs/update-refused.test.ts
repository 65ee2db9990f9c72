import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth } from "socket.io-session-auth";
import { authjsStore, type AuthjsJwt } from "socket.io-session-auth/authjs";
import { startAuthjsApp } from "../../support/authjs-app.js";
import { startNextAuth4App } from "../../support/next-auth4-app.js";
import { ask, connect, startRealtime, type WhoAmI } from "../../support/realtime.js";

// auth.update() on a JWT session: nothing on the server holds the session to write to. The TypeError
// must say so (the token in the browser's cookie is the only copy) and what to do instead.

const SECRET = "the web app's AUTH_SECRET: 32 characters or more";

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

async function realtime(version: 4 | 5) {
  const auth = sessionAuth<AuthjsJwt>({ store: authjsStore({ secret: SECRET, version }) });
  const mutated: unknown[] = [];
  const server = await startRealtime((io) => {
    auth.attach(io);
    io.on("connection", (socket) => {
      socket.on("update", (ack: (reply: { error: string; session: AuthjsJwt }) => void) => {
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
  return { ...server, mutated };
}

describe.each([5, 4] as const)(
  "Auth.js v%i JWT sessions: auth.update() says why it cannot, and what to do",
  (version) => {
    it("a TypeError naming the browser's cookie as the only copy, the web app's session update and a reconnect", async () => {
      const app =
        version === 5 ? await startAuthjsApp({ secret: SECRET }) : await startNextAuth4App({ secret: SECRET });
      opened.push(app);
      const jar = await app.signIn("ada");
      const server = await realtime(version);
      const socket = await connect(server.url, { cookie: jar.header() });
      const reply = await ask<{ error: string; session: WhoAmI & AuthjsJwt }>(socket, "update");
      expect(reply.error).toMatch(new RegExp(`^TypeError: update: store "authjs \\(v${version}, jwt\\)" cannot write`));
      expect(reply.error).toContain("lives in the browser's cookie");
      expect(reply.error).toContain("only an HTTP response can replace it");
      expect(reply.error).toContain("have the client reconnect");
      expect(reply.error).not.toContain(jar.header().slice(-40)); // never the token
      // Refused before anything ran: the mutator never saw the session, which is as the handshake read it.
      expect(server.mutated).toEqual([]);
      expect(reply.session.sub).toBe("id-ada");
      socket.close();
    });
  },
);
