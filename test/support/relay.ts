import { once } from "node:events";
import { createServer, connect as tcpConnect, type AddressInfo, type Socket as TcpSocket } from "node:net";

/**
 * A TCP relay on 127.0.0.1 in front of one server (redis-server): a node whose Redis clients connect
 * through it can have its link cut while the other nodes keep theirs. `cut(ms)` resets every open
 * connection (both sides: the client sees ECONNRESET, Redis drops the client and its subscriptions, as
 * after a real network cut or a load balancer reset), resets every new connection for `ms`, then
 * relays again. Resolves when it accepts again, with that moment (Date.now()).
 */
export interface Relay {
  readonly port: number;
  readonly url: string;
  /** Open relayed connections (each is a client connection; its upstream twin is not counted). */
  readonly connections: number;
  /** Connections reset while cut (clients retrying). */
  readonly refused: number;
  cut(ms: number): Promise<number>;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number, targetHost = "127.0.0.1"): Promise<Relay> {
  const clients = new Set<TcpSocket>();
  const upstreams = new Set<TcpSocket>();
  let cutUntil = 0;
  let refused = 0;

  const reset = (socket: TcpSocket): void => {
    // An RST, not a FIN: what a client sees when the path is cut and the peer is gone.
    if (!socket.destroyed) socket.resetAndDestroy();
  };

  const server = createServer({ noDelay: true }, (client) => {
    client.on("error", () => {}); // a reset is the point here, not a failure
    if (Date.now() < cutUntil) {
      refused++;
      reset(client);
      return;
    }
    const upstream = tcpConnect({ port: targetPort, host: targetHost, noDelay: true });
    upstream.on("error", () => {});
    clients.add(client);
    upstreams.add(upstream);
    client.pipe(upstream).pipe(client);
    client.on("close", () => {
      clients.delete(client);
      upstream.destroy();
    });
    upstream.on("close", () => {
      upstreams.delete(upstream);
      client.destroy();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get connections() {
      return clients.size;
    },
    get refused() {
      return refused;
    },
    async cut(ms) {
      cutUntil = Date.now() + ms;
      for (const socket of clients) reset(socket);
      for (const socket of upstreams) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, ms));
      return Date.now();
    },
    async close() {
      for (const socket of clients) reset(socket);
      for (const socket of upstreams) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
