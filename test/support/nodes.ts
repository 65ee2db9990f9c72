import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, connect as tcpConnect, type AddressInfo, type Socket as TcpSocket } from "node:net";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server as SocketIoServer, type Server, type ServerOptions } from "socket.io";
import type { Socket as ClientSocket } from "socket.io-client";
import {
  sessionAuth,
  type SessionAuth,
  type SessionAuthError,
  type SessionAuthOptions,
  type SessionData,
} from "socket.io-session-auth";
import { connect } from "./realtime.js";

/** Listens on a free loopback port and resolves the base URL. */
export async function listen(http: HttpServer): Promise<string> {
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

/**
 * Resolves once every server's adapter counts `count` servers: until then a broadcast, an ack count or a
 * fetchSockets from one node would miss the others (subscriptions and heartbeats are asynchronous).
 */
export async function untilServerCount(servers: readonly Server[], count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(
      servers.map((io) =>
        io
          .of("/")
          .adapter.serverCount()
          .catch(() => -1),
      ),
    );
    if (counts.every((n) => n === count)) return;
    if (Date.now() > deadline)
      throw new Error(`adapters count ${counts.join(", ")} servers, not ${count}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A TCP load balancer on 127.0.0.1 with one upstream at a time: `switchTo(port)` sends new connections
 * elsewhere, `dropAll()` cuts the open ones (both sides), as a balancer that lost a node would. Lets a
 * socket.io client reconnect to another node under the same URL, as it would in production.
 */
export interface SwitchProxy {
  readonly url: string;
  switchTo(port: number): void;
  dropAll(): void;
  close(): Promise<void>;
}

export async function startSwitchProxy(upstreamPort: number): Promise<SwitchProxy> {
  let upstream = upstreamPort;
  const open = new Set<TcpSocket>();
  const server = createServer((downstream) => {
    const up = tcpConnect(upstream, "127.0.0.1");
    for (const socket of [downstream, up]) {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => {}); // a cut connection is the point here, not a failure
    }
    downstream.pipe(up).pipe(downstream);
    downstream.on("close", () => up.destroy());
    up.on("close", () => downstream.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const dropAll = () => {
    for (const socket of open) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    switchTo: (port) => void (upstream = port),
    dropAll,
    close: async () => {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A socket.io node on 127.0.0.1 with sessionAuth attached: what the several-node tests start per node. */
export interface AuthNode<S extends object = SessionData> {
  url: string;
  io: Server;
  auth: SessionAuth<S>;
  /** What `onSessionEnd` was told, in order. */
  ends: SessionAuthError[];
  /** Closes sessionAuth, then socket.io, then the adapter's clients. */
  close(): Promise<void>;
}

/** A socket.io adapter and how to let go of its clients once the server is closed. */
export interface NodeAdapter {
  adapter: ServerOptions["adapter"];
  close(): Promise<unknown>;
}

/** @socket.io/redis-adapter over two ioredis clients (a publisher, and its duplicate to subscribe). */
export function redisAdapter(url: string, options: { ignoreErrors?: boolean } = {}): NodeAdapter {
  const pub = new Redis(url);
  const sub = pub.duplicate();
  if (options.ignoreErrors) for (const client of [pub, sub]) client.on("error", () => {}); // a cut link is the point
  return { adapter: createAdapter(pub, sub), close: () => Promise.allSettled([pub.quit(), sub.quit()]) };
}

/**
 * Starts one node: an HTTP server with socket.io on `adapter`, and `sessionAuth(options)` attached, its
 * `onSessionEnd` collected in `ends` (after the caller's own `onSessionEnd`, if any).
 */
export async function startAuthNode<S extends object = SessionData>(
  options: SessionAuthOptions<S>,
  adapter: NodeAdapter,
): Promise<AuthNode<S>> {
  const http = createHttpServer();
  const io = new SocketIoServer(http, { adapter: adapter.adapter });
  const ends: SessionAuthError[] = [];
  const auth = sessionAuth<S>({
    ...options,
    onSessionEnd: (error, socket) => {
      options.onSessionEnd?.(error, socket);
      ends.push(error);
    },
  });
  auth.attach(io);
  const url = await listen(http);
  return {
    url,
    io,
    auth,
    ends,
    close: async () => {
      await auth.close();
      await io.close();
      await adapter.close();
    },
  };
}

/**
 * Logs a user in on the web app and opens one socket per node given, over websocket (no sticky sessions
 * needed); every socket is also pushed to `opened`, for the caller to close.
 */
export async function userOnNodes(
  web: { login(user: { id: string }): Promise<string> },
  id: string,
  nodes: ReadonlyArray<{ url: string }>,
  opened: ClientSocket[],
): Promise<{ cookie: string; sockets: ClientSocket[] }> {
  const cookie = await web.login({ id });
  const sockets: ClientSocket[] = [];
  for (const node of nodes) {
    const socket = await connect(node.url, { cookie, transports: ["websocket"] });
    opened.push(socket);
    sockets.push(socket);
  }
  return { cookie, sockets };
}
