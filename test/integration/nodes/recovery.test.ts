import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
import { Server } from "socket.io";
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionAuth, userRoom } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";
import { startStreamsNode } from "../../../docs/examples/several-nodes-streams.js";
import { listen, startSwitchProxy, untilServerCount, type SwitchProxy } from "../../support/nodes.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { captureWarnings } from "../../support/warnings.js";
import { startWebApp, type WebApp } from "../../support/web-app.js";

// Cross-node connection state recovery (issue 12, item 3). With the streams adapter, a socket dropped by
// node A can be recovered on node B: socket.io then skips the middlewares, and node B may never have run
// ours. A "load balancer" (a TCP proxy on loopback) moves the client from A to B under the same URL.

const SECRET = "keyboard cat";
const TOKEN = "recovery-token-0123456789abcdef";
const available = redisServerAvailable();

interface Node {
  io: Server;
  port: number;
  close(): Promise<void>;
}

describe.skipIf(!available)("recovery across nodes with the streams adapter", () => {
  let redis: RedisServer;
  let web: WebApp;
  let closeWriter: () => void;
  const perTest: Array<() => unknown> = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    const writer = createClient({ url: redis.url });
    writer.on("error", () => {});
    await writer.connect();
    closeWriter = () => writer.destroy();
    web = await startWebApp({ store: new RedisStore({ client: writer }) });
  });

  afterAll(async () => {
    await web?.close();
    closeWriter?.();
    await redis?.stop();
  });

  afterEach(async () => {
    for (const close of perTest.splice(0).reverse()) await close();
  });

  /** A node exactly as docs/examples/several-nodes-streams.ts wires it (allowRequest + io.use). */
  async function docsNode(): Promise<Node> {
    const node = await startStreamsNode({ redisUrl: redis.url, secret: SECRET, pushTokens: [TOKEN] });
    await listen(node.http);
    perTest.push(() => node.close());
    return { io: node.io, port: (node.http.address() as AddressInfo).port, close: node.close };
  }

  /** The same, wired with `io.use(auth)` only (or with `wire`), as most apps do today. */
  async function middlewareOnlyNode(
    wire: (io: Server, auth: ReturnType<typeof sessionAuth>) => void = (io, auth) => void io.use(auth),
    skipMiddlewares = true,
  ): Promise<Node> {
    const client = createClient({ url: redis.url });
    client.on("error", () => {});
    await client.connect();
    const http = createServer();
    const io = new Server(http, {
      adapter: createAdapter(client),
      connectionStateRecovery: { maxDisconnectionDuration: 60_000, skipMiddlewares },
    });
    wire(io, sessionAuth({ store: redisStore({ client }), secret: SECRET }));
    await listen(http);
    const close = async () => {
      await io.close();
      await client.close();
    };
    perTest.push(close);
    return { io, port: (http.address() as AddressInfo).port, close };
  }

  /**
   * Logs in, connects through the proxy (pointing at `from`), and receives one broadcast so the client
   * holds a stream offset (recovery needs one). Reconnection on, quickly, as a browser would.
   */
  async function connectedThrough(
    proxy: SwitchProxy,
    from: Node,
    user: string,
  ): Promise<{ socket: ClientSocket; cookie: string }> {
    const cookie = await web.login({ id: user });
    const socket = ioClient(proxy.url, {
      extraHeaders: { cookie },
      transports: ["websocket"],
      forceNew: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 100,
      timeout: 2000,
    });
    perTest.push(() => socket.close());
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    const greeted = new Promise((resolve) => socket.once("hello", resolve));
    from.io.to(userRoom(user)).emit("hello", 1);
    await greeted;
    return { socket, cookie };
  }

  /** Cuts the connection to A and lets the client reconnect, through the same URL, to B. */
  function moveTo(proxy: SwitchProxy, to: Node): void {
    proxy.switchTo(to.port);
    proxy.dropAll();
  }

  /** What the client sees within `ms` after the move: connected again (recovered or not), or not. */
  async function settle(
    socket: ClientSocket,
    ms: number,
  ): Promise<{ connected: boolean; recovered: boolean; serverDisconnected: boolean }> {
    let serverDisconnected = false;
    socket.on("disconnect", (reason) => void (serverDisconnected ||= reason === "io server disconnect"));
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { connected: socket.connected, recovered: socket.recovered, serverDisconnected };
  }

  it("a socket with a live session is recovered on node B, rooms and all, though B never ran the middleware", async () => {
    const [a, b] = [await docsNode(), await docsNode()];
    await untilServerCount([a.io, b.io], 2);
    const proxy = await startSwitchProxy(a.port);
    perTest.push(() => proxy.close());
    const { socket } = await connectedThrough(proxy, a, "kim");
    const back = new Promise<void>((resolve) => socket.io.once("reconnect", () => resolve()));
    moveTo(proxy, b);
    await back;
    await new Promise<void>((resolve) => (socket.connected ? resolve() : socket.once("connect", () => resolve())));
    expect(socket.recovered).toBe(true);
    expect(b.io.of("/").sockets.size).toBe(1);
    // Its user room came along: a push to the user reaches it on B.
    const pushed = new Promise((resolve) => socket.once("note", resolve));
    a.io.to(userRoom("kim")).emit("note", "on B");
    expect(await pushed).toBe("on B");
  });

  it("with the docs' wiring (allowRequest too), a session destroyed while away does not come back on node B", async () => {
    const [a, b] = [await docsNode(), await docsNode()];
    await untilServerCount([a.io, b.io], 2);
    const proxy = await startSwitchProxy(a.port);
    perTest.push(() => proxy.close());
    const { socket, cookie } = await connectedThrough(proxy, a, "lee");
    const refused: string[] = [];
    socket.on("connect_error", (error) => refused.push(error.message));
    proxy.switchTo(b.port);
    await web.logout(cookie);
    proxy.dropAll();
    const outcome = await settle(socket, 1500);
    expect(outcome.connected).toBe(false);
    expect(refused.length).toBeGreaterThan(0); // refused at the engine, attempt after attempt
    expect(b.io.of("/").sockets.size).toBe(0);
  });

  it("with io.use only, a node that has run the middleware re-checks what it recovers: the destroyed session is ended", async () => {
    const warnings = captureWarnings();
    const [a, b] = [await middlewareOnlyNode(), await middlewareOnlyNode()];
    await untilServerCount([a.io, b.io], 2);
    const proxy = await startSwitchProxy(a.port);
    perTest.push(() => proxy.close());
    // Someone else connects to B first: B's middleware has run once.
    const warm = await startSwitchProxy(b.port);
    perTest.push(() => warm.close());
    await connectedThrough(warm, b, "someone");
    const { socket, cookie } = await connectedThrough(proxy, a, "max");
    // Recovery without allowRequest: each node says so once, at its first handshake.
    expect(warnings.codes()).toContain("SOCKET_IO_SESSION_AUTH_RECOVERY");
    proxy.switchTo(b.port);
    await web.logout(cookie);
    proxy.dropAll();
    const outcome = await settle(socket, 1500);
    expect(outcome).toMatchObject({ connected: false, serverDisconnected: true });
    expect([...b.io.of("/").sockets.values()].map((s) => s.data.userId)).toEqual(["someone"]);
  });

  // With the docs' wiring: allowRequest checks that the new cookie holds a live session, and the re-check
  // that attach() installs on every node at start checks that it is still the recovered socket's user.
  // A browser that logged out and in as someone else while away is never recovered into the first
  // user's rooms and socket.data.
  it("with the docs' wiring, a socket recovered with another user's cookie on a node that never ran the middleware is not kept as the old user", async () => {
    const [a, b] = [await docsNode(), await docsNode()];
    await untilServerCount([a.io, b.io], 2);
    const proxy = await startSwitchProxy(a.port);
    perTest.push(() => proxy.close());
    const { socket } = await connectedThrough(proxy, a, "pia");
    // Logged in as someone else in the same browser: the next handshake carries the new cookie.
    const other = await web.login({ id: "quentin" });
    (socket.io.opts.extraHeaders as Record<string, string>).cookie = other;
    const handshakes: Array<{ cookie: string | undefined; recovered: boolean }> = [];
    b.io.on("connection", (s) => handshakes.push({ cookie: s.handshake.headers.cookie, recovered: s.recovered }));
    moveTo(proxy, b);
    const outcome = await settle(socket, 1500);
    // The set-up did what it says (these hold with or without the hole): B recovered it, with the new cookie.
    expect(handshakes).toEqual([{ cookie: other, recovered: true }]);
    expect(outcome.recovered).toBe(true);
    // Either ended, or (had it been re-checked) never pia's any more.
    expect(outcome.connected && [...b.io.of("/").sockets.values()].some((s) => s.data.userId === "pia")).toBe(false);
  });

  // With `skipMiddlewares: false` socket.io runs the middleware on recovered sockets too, on every node:
  // the middleware refuses a recovered socket whose user changed, never mixing the new user into the old
  // user's restored rooms.
  it("with skipMiddlewares: false, a recovered socket whose cookie is now another user's never mixes the two users", async () => {
    const [a, b] = [await middlewareOnlyNode(undefined, false), await middlewareOnlyNode(undefined, false)];
    await untilServerCount([a.io, b.io], 2);
    const proxy = await startSwitchProxy(a.port);
    perTest.push(() => proxy.close());
    const { socket } = await connectedThrough(proxy, a, "rae");
    const other = await web.login({ id: "sid-other" });
    (socket.io.opts.extraHeaders as Record<string, string>).cookie = other;
    const refused = new Promise<unknown>((resolve) =>
      socket.once("connect_error", (error: Error & { data?: unknown }) => resolve(error.data)),
    );
    moveTo(proxy, b);
    const outcome = await settle(socket, 1500);
    // B's middleware saw the recovery attempt with the new cookie and refused it: never the old user's socket.
    expect(await refused).toEqual({ code: "UNAUTHENTICATED", retryable: false });
    const mixed = [...b.io.of("/").sockets.values()].some(
      (s) => s.data.userId === "sid-other" && s.rooms.has(userRoom("rae")),
    );
    expect(outcome.connected && mixed).toBe(false);
  });

  // The limit of `io.use(auth)` alone: the middleware is the first call the auth sees, so a node whose
  // middleware never ran cannot re-check the sockets it recovers. `auth.attach(io)` (the recommended
  // wiring, next test) or `allowRequest` (above) closes it. Kept as `it.fails` to document the limit: if
  // it ever passes, the docs that recommend attach() must be revisited.
  it.fails(
    "with io.use only, a node that never ran the middleware keeps the destroyed session's recovered socket (known hole)",
    async () => {
      const warnings = captureWarnings();
      const [a, b] = [await middlewareOnlyNode(), await middlewareOnlyNode()];
      await untilServerCount([a.io, b.io], 2);
      const proxy = await startSwitchProxy(a.port);
      perTest.push(() => proxy.close());
      const { socket, cookie } = await connectedThrough(proxy, a, "ned");
      // Recovery without allowRequest: each node says so once, at its first handshake.
      expect(warnings.codes()).toContain("SOCKET_IO_SESSION_AUTH_RECOVERY");
      proxy.switchTo(b.port);
      await web.logout(cookie);
      proxy.dropAll();
      const outcome = await settle(socket, 1500);
      expect(outcome.connected).toBe(false);
      expect(b.io.of("/").sockets.size).toBe(0);
    },
  );

  // `auth.attach(io)` = `io.use(auth)` on the main namespace and on every namespace created later, and the
  // recovery re-check installed on each at once, before any handshake: no allowRequest, B never ran
  // anything, and the recovered socket of the destroyed session is ended by B, not kept.
  it("with auth.attach(io), a node that never ran the middleware still ends the destroyed session's recovered socket", async () => {
    const warnings = captureWarnings();
    const wire = (io: Server, auth: ReturnType<typeof sessionAuth>) => void auth.attach(io);
    const [a, b] = [await middlewareOnlyNode(wire), await middlewareOnlyNode(wire)];
    await untilServerCount([a.io, b.io], 2);
    const proxy = await startSwitchProxy(a.port);
    perTest.push(() => proxy.close());
    const { socket, cookie } = await connectedThrough(proxy, a, "oli");
    // Recovery without allowRequest: each node says so once, at its first handshake.
    expect(warnings.codes()).toContain("SOCKET_IO_SESSION_AUTH_RECOVERY");
    proxy.switchTo(b.port);
    await web.logout(cookie);
    proxy.dropAll();
    const outcome = await settle(socket, 1500);
    expect(outcome).toMatchObject({ connected: false, serverDisconnected: true });
    expect(b.io.of("/").sockets.size).toBe(0);
  });
});
