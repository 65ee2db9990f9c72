import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { memoryStore } from "socket.io-session-auth/memory";
import { crossOriginRealtime } from "../../../docs/examples/security-origins.js";
import { engineChecked } from "../../../docs/examples/security-allow-request.js";
import { recoveringRealtime } from "../../../docs/examples/security-recovery.js";
import { sessionSecrets } from "../../../docs/examples/security-rotation.js";
import { connect, refusal } from "../../support/realtime.js";
import { startWebApp } from "../../support/web-app.js";

// Runs the examples of docs/security.md and checks the claims the page makes about them.

const opened: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function serve<T extends { close(): unknown }>(start: (http: ReturnType<typeof createServer>) => T) {
  const http = createServer();
  const io = start(http);
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  opened.push(() => io.close());
  return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

/** The next `event` of a socket.io-client socket (node's `once` wants a node EventEmitter). */
const nextEvent = (socket: ClientSocket, event: string) =>
  new Promise<void>((resolve) => socket.once(event, () => resolve()));

async function webApp(secret: string | string[]) {
  const web = await startWebApp({ secret });
  opened.push(() => web.close());
  return web;
}

describe("docs/security.md", () => {
  it("security-origins.ts: the listed page connects (CORS with credentials); another origin is refused", async () => {
    const web = await webApp("origins secret");
    const app = "https://app.example.com";
    const { url } = await serve((http) => crossOriginRealtime(http, memoryStore(web.store), "origins secret", [app]));
    const cookie = await web.login({ id: 1 });

    opened.push(
      (
        (socket) => () =>
          socket.close()
      )(await connect(url, { cookie, origin: app })),
    );
    expect((await refusal(url, { cookie, origin: "https://evil.example" })).data).toEqual({
      code: "ORIGIN_NOT_ALLOWED",
      retryable: false,
    });
    // A subdomain of the same site (which gets SameSite=Lax cookies) is another origin all the same.
    expect((await refusal(url, { cookie, origin: "https://blog.example.com" })).data).toEqual({
      code: "ORIGIN_NOT_ALLOWED",
      retryable: false,
    });

    const preflight = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
      method: "OPTIONS",
      headers: { origin: app, "access-control-request-method": "GET" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBe(app);
    expect(preflight.headers.get("access-control-allow-credentials")).toBe("true");
  });

  it("security-rotation.ts: old cookies keep working while the previous secret is listed, and stop when it is dropped", async () => {
    const old = "o".repeat(32);
    const next = "n".repeat(32);
    expect(() => sessionSecrets({})).toThrow(/SESSION_SECRET/);
    expect(() => sessionSecrets({ SESSION_SECRET: "short" })).toThrow(/32/);
    expect(sessionSecrets({ SESSION_SECRET: old })).toEqual([old]);
    const rotated = sessionSecrets({ SESSION_SECRET: next, SESSION_SECRET_PREVIOUS: old });
    expect(rotated).toEqual([next, old]);

    const before = await webApp(sessionSecrets({ SESSION_SECRET: old }));
    const oldCookie = await before.login({ id: 2 });
    // Both sides deployed with [next, old], sharing the store.
    const after = await startWebApp({ secret: rotated, store: before.store });
    opened.push(() => after.close());
    const { url } = await serve((http) => engineChecked(http, memoryStore(before.store), rotated));
    opened.push(
      (
        (socket) => () =>
          socket.close()
      )(await connect(url, { cookie: oldCookie })),
    );
    opened.push(
      (
        (socket) => () =>
          socket.close()
      )(await connect(url, { cookie: await after.login({ id: 3 }) })),
    );

    const { url: dropped } = await serve((http) => crossOriginRealtime(http, memoryStore(before.store), next, []));
    const refused = await refusal(dropped, { cookie: oldCookie });
    expect(refused.data).toEqual({ code: "BAD_SIGNATURE", retryable: false });
  });

  it("security-allow-request.ts: refused at the engine (a transport error, the code in the 403 body), one store lookup per connection", async () => {
    const web = await webApp("engine secret");
    let lookups = 0;
    const store = memoryStore(web.store);
    const counted = {
      name: store.name,
      get: (id: string, options: Parameters<typeof store.get>[1]) => (lookups++, store.get(id, options)),
    };
    const { url } = await serve((http) => engineChecked(http, counted, "engine secret"));

    const refused = await refusal(url);
    expect(refused.data).toBeUndefined();
    expect(refused.message).toBe("xhr poll error");
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ code: 4, message: "NO_SESSION_COOKIE" });

    const cookie = await web.login({ id: 4 });
    lookups = 0;
    const socket = await connect(url, { cookie });
    opened.push(() => socket.close());
    expect(lookups).toBe(1);
  });

  it("security-recovery.ts: a recovered socket gets its missed packets back, unless its session ended meanwhile", async () => {
    const web = await webApp("recovery secret");
    const { io, url } = await serve((http) => recoveringRealtime(http, memoryStore(web.store), "recovery secret"));
    io.on("connection", (socket) => {
      if (!socket.recovered) void socket.join("news");
      socket.on("sync", (ack: () => void) => ack());
    });

    /** Connects, cuts the transport, lets the server broadcast a packet meanwhile, and reconnects. */
    async function blip(cookie: string, meanwhile: () => Promise<void>) {
      const socket: ClientSocket = ioClient(url, {
        extraHeaders: { cookie },
        transports: ["websocket"],
        reconnection: false,
        forceNew: true,
      });
      opened.push(() => socket.close());
      await nextEvent(socket, "connect");
      const received: unknown[] = [];
      socket.on("news", (item: unknown) => received.push(item));
      // socket.io recovers from the offset of the last broadcast the client got: give it one.
      const first = nextEvent(socket, "news");
      io.to("news").emit("news", "before");
      await first;
      const gone = nextEvent(socket, "disconnect");
      socket.io.engine.close(); // the network drops
      await gone;
      await meanwhile();
      io.to("news").emit("news", "missed while away");
      const outcome = new Promise<string>((resolve) => {
        socket.once("connect", () => resolve(socket.recovered ? "recovered" : "connected"));
        socket.once("connect_error", (err) => resolve(`refused: ${err.message}`));
      });
      socket.connect();
      const result = await outcome;
      // Whatever the engine delivered arrives with the connect packet; give it a round trip to land.
      if (socket.connected) await socket.timeout(5000).emitWithAck("sync");
      return { result, received };
    }

    const kept = await blip(await web.login({ id: 5 }), async () => {});
    expect(kept).toEqual({ result: "recovered", received: ["before", "missed while away"] });

    const cookie = await web.login({ id: 6 });
    const revoked = await blip(cookie, () => web.logout(cookie));
    expect(revoked.result).toBe("refused: websocket error");
    expect(revoked.received).toEqual(["before"]);
  });
});
