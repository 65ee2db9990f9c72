import { createSecretKey, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, type SessionAuthError } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { ask, connect, refusal, serveWhoami, startRealtime, type WhoAmI } from "../../support/realtime.js";
import { startWebApp } from "../../support/web-app.js";

// Issue 18, item 8: express-session ≥ 1.18 signs with anything crypto.createHmac takes, so the socket
// server must take the very same value: a Buffer, or a KeyObject made of it.

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

describe("express-session signing with a Buffer secret", () => {
  const current = randomBytes(32);
  const previous = randomBytes(32);

  it.each([
    ["the same Buffer", [current]],
    ["a KeyObject of it", [createSecretKey(current)]],
    ["a list where it is not first", [previous, current]],
  ] as const)("a real login cookie connects with %s", async (_, secret) => {
    const web = await startWebApp({ secret: current });
    opened.push(web);
    const auth = sessionAuth({ store: memoryStore(web.store), secret: [...secret] });
    const realtime = await startRealtime((io) => {
      io.use(auth);
      serveWhoami(io);
    });
    opened.push(realtime);
    const cookie = await web.login({ id: 7 });
    const socket = await connect(realtime.url, { cookie });
    opened.push({ close: () => socket.disconnect() });
    expect((await ask<WhoAmI>(socket, "whoami")).userId).toBe("7");
  });

  it("a cookie signed with another Buffer is BAD_SIGNATURE, and the secret appears in no message", async () => {
    const web = await startWebApp({ secret: previous });
    opened.push(web);
    const errors: SessionAuthError[] = [];
    const auth = sessionAuth({ store: memoryStore(web.store), secret: current, onError: (e) => errors.push(e) });
    const realtime = await startRealtime((io) => io.use(auth));
    opened.push(realtime);
    const failure = await refusal(realtime.url, { cookie: await web.login({ id: 7 }) });
    expect(failure.message).toBe("BAD_SIGNATURE");
    for (const text of [current, previous].flatMap((b) => [
      b.toString("hex"),
      b.toString("base64"),
      b.toString("latin1"),
    ])) {
      expect(errors[0]!.message).not.toContain(text);
    }
  });
});
