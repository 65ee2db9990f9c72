import { once } from "node:events";
import type { Server as HttpServer } from "node:http";
import { createServer, connect as tcpConnect, type AddressInfo, type Socket as TcpSocket } from "node:net";
import type { Server } from "socket.io";

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
