import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, type SessionStore, type StoreGetOptions } from "socket.io-session-auth";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { ask, connect, startRealtime } from "../../support/realtime.js";

// Issue 19's hook over a real socket.io server: a store that declares several cookie names is told
// which one the session came from, at the handshake and again at every re-read of the connected socket
// (Auth.js derives its key from it).

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

describe("a store-declared cookie on a live socket", () => {
  it("hands get() the cookie name at the handshake and on re-reads (reload)", async () => {
    const calls: Array<{ id: string; cookieName: string | undefined }> = [];
    const store: SessionStore<{ sub: string }> = {
      name: "declared",
      cookie: { names: ["__Secure-app.token", "app.token"], signing: "better-auth", secrets: ["declared-secret"] },
      identify: (session) => session.sub,
      get: async (id: string, options: StoreGetOptions) => {
        calls.push({ id, cookieName: options.cookieName });
        return { session: { sub: "u1" } };
      },
    };
    const auth = sessionAuth({ store });
    const realtime = await startRealtime((io) => {
      auth.attach(io);
      io.on("connection", (socket) => {
        socket.on("reload", (ack: (value: unknown) => void) =>
          auth.reload(socket).then((session) => ack({ session, userId: socket.data.userId })),
        );
      });
    });
    opened.push(realtime, { close: () => auth.close() });
    const cookie = signSessionCookie({
      value: "t1",
      secret: "declared-secret",
      name: "app.token",
      signing: "better-auth",
    });
    const socket = await connect(realtime.url, { cookie });
    opened.push({ close: () => socket.disconnect() });
    expect(await ask(socket, "reload")).toEqual({ session: { sub: "u1" }, userId: "u1" });
    expect(calls).toEqual([
      { id: "t1", cookieName: "app.token" },
      { id: "t1", cookieName: "app.token" },
    ]);
  });
});
