import type { IncomingMessage } from "node:http";
import type { BroadcastOperator, Namespace, Server, Socket } from "socket.io";
import { redisNotReady } from "./redis.js";

/**
 * Every reach of this package into socket.io beyond its typed public API, in one place, so an upgrade of
 * socket.io is checked here and by one test (test/integration/socketio/internals.test.ts, which exercises
 * each against the installed socket.io). Written against socket.io 4.8; each says what it relies on.
 */

/**
 * Event names a socket may not use for its own events: socket.io 4's `RESERVED_EVENTS` (emitting one
 * throws or confuses the client), plus `error`, special in older clients and in Node's EventEmitter.
 * The one list of the package: `endEvent` and the push router's `event` are checked against it.
 */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
  "error",
]);

/** The engine's options this package checks at start (engine.io's `ServerOptions`, read from `io.engine.opts`). */
export interface EngineOptions {
  allowRequest?: unknown;
  transports?: string[];
  cors?: { origin?: unknown; credentials?: boolean } | boolean;
}

/**
 * The server's `connectionStateRecovery` option (socket.io keeps its options in the private `_opts`) and
 * the engine's options (`io.engine.opts`, present once the server is attached to an HTTP server).
 */
export function serverSetup(io: Server): {
  recovery: { skipMiddlewares?: boolean } | undefined;
  engine: EngineOptions | undefined;
} {
  const opts = (io as unknown as { _opts?: { connectionStateRecovery?: { skipMiddlewares?: boolean } } })._opts ?? {};
  const engine = (io.engine as unknown as { opts?: EngineOptions } | undefined)?.opts;
  return { recovery: opts.connectionStateRecovery, engine };
}

/**
 * Whether the namespace's adapter reaches other nodes: socket.io's in-memory `Adapter` keeps the base
 * `serverSideEmit`, which only warns; every cluster adapter (redis, sharded, streams, cluster, mongo)
 * overrides it. Told by the class that defines `serverSideEmit` (socket.io's own is named `Adapter`, and
 * its connection-state-recovery one `SessionAwareAdapter`).
 */
export function hasOtherNodes(adapter: object): boolean {
  let proto: object | null = Object.getPrototypeOf(adapter) as object | null;
  while (proto !== null && !Object.hasOwn(proto, "serverSideEmit"))
    proto = Object.getPrototypeOf(proto) as object | null;
  if (proto === null) return false;
  const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  return name !== "Adapter" && name !== "SessionAwareAdapter";
}

/**
 * Sends `payload` under `event` to the main namespace of every other node (`serverSideEmit`), and does
 * nothing with a single-node adapter (whose `serverSideEmit` would only warn). Our event names are not in
 * the app's typed events, hence the cast.
 */
export function emitToOtherNodes(io: Server, event: string, payload: unknown): void {
  const main = io.of("/");
  if (!hasOtherNodes(main.adapter)) return;
  (main.serverSideEmit as (event: string, ...args: unknown[]) => boolean)(event, payload);
}

/**
 * Listens on the main namespace for `event` sent by other nodes' {@link emitToOtherNodes} (a Namespace is an
 * EventEmitter). With {@link emitToOtherNodesWithAck} the adapter appends its acknowledgement callback
 * (to be called once, with one argument): handed over as `ack`.
 */
export function onOtherNodes(
  io: Server,
  event: string,
  listener: (payload: unknown, ack: ((answer: unknown) => void) | undefined) => void,
): void {
  (io.of("/") as unknown as NodeJS.EventEmitter).on(event, (payload: unknown, ack?: unknown) =>
    listener(payload, typeof ack === "function" ? (answer) => void ack(answer) : undefined),
  );
}

/**
 * Calls `written` right after socket.io writes the packet of `event` to the socket: socket.io calls its
 * outgoing listeners (`onAnyOutgoing`, 4.5+) just before it writes, so the next tick is after. Returns
 * the undo. Used to disconnect only once an end event has left (with connectionStateRecovery, an emit
 * goes through the adapter first, and a cluster adapter writes it only after a round trip).
 */
export function afterWritten(socket: Socket, event: string, written: () => void): () => void {
  const listener = (name: string): void => {
    if (name === event) process.nextTick(written);
  };
  socket.onAnyOutgoing(listener);
  return () => socket.offAnyOutgoing(listener);
}

type Adapter = Namespace["adapter"];
/** socket.io's `BroadcastOperator`, the class behind every `nsp.to()`. */
export type Operator = BroadcastOperator<Record<string, (...args: unknown[]) => void>, unknown>;
export type OperatorClass = new (
  adapter: Adapter,
  rooms?: Set<string>,
  except?: Set<string>,
  flags?: { timeout?: number },
) => Operator;

/**
 * socket.io declares `BroadcastOperator` (and its constructor) public but exports it as a type only; the
 * class is the one behind every `io.to()`. Building our own lets the push router hand it an adapter that
 * counts recipients (see {@link countingAdapter}) while socket.io keeps its completeness and timeout logic.
 */
export function operatorClass(io: Server): OperatorClass {
  return io.to("").constructor as OperatorClass;
}

/**
 * `adapter` with two methods replaced, everything else the adapter itself: `broadcastWithAck` also
 * reports each node's recipient count to `onCount` (socket.io reports the responses but not how many
 * sockets were sent the message, which a partial answer needs), and `serverCount` answers `serverCount`.
 * Relies on socket.io's ack broadcast calling `adapter.broadcastWithAck(packet, opts, onCount, onAck)`
 * and `adapter.serverCount()` (socket.io 4.5+).
 */
export function countingAdapter(
  adapter: Adapter,
  onCount: (count: number) => void,
  serverCount: () => Promise<number>,
): Adapter {
  return Object.create(adapter, {
    broadcastWithAck: {
      value: (
        packet: unknown,
        opts: Parameters<Adapter["broadcastWithAck"]>[1],
        count: (count: number) => void,
        onAck: (...args: unknown[]) => void,
      ) =>
        adapter.broadcastWithAck(
          packet,
          opts,
          (n) => {
            onCount(n);
            count(n);
          },
          onAck,
        ),
    },
    serverCount: { value: serverCount },
  }) as Adapter;
}

/** What `serverSideEmit` with an acknowledgement brought back from the other nodes. */
export interface OtherNodesAnswer {
  /** One answer per node that acknowledged, in arrival order. */
  responses: unknown[];
  /** Whether the adapter heard every node it expected (by its own count) before its timeout. */
  complete: boolean;
}

// socket.io-adapter's ClusterAdapter waits this long for answers (its DEFAULT_TIMEOUT, not configurable).
const ADAPTER_TIMEOUT_MS = 5_000;
// How long past the adapter's own timeout an answer is still waited for before it counts as none.
const BACKSTOP_MARGIN_MS = 1_000;

/**
 * How long the adapter waits for the other nodes' answers: `@socket.io/redis-adapter`'s classic adapter
 * has a public `requestsTimeout` (default 5 000); socket.io-adapter's ClusterAdapter (sharded, streams)
 * uses a fixed 5 000 ms.
 */
export function requestTimeoutOf(adapter: object): number {
  const timeout = (adapter as { requestsTimeout?: unknown }).requestsTimeout;
  return typeof timeout === "number" && timeout > 0 ? timeout : ADAPTER_TIMEOUT_MS;
}

/**
 * Sends `payload` under `event` to the main namespace of every other node and gathers their
 * acknowledgements: `adapter.serverSideEmit([event, payload, ack])` with the ack `(error, responses)`
 * (socket.io-adapter 2.5, @socket.io/redis-adapter 8, @socket.io/redis-streams-adapter 0.3). Called on
 * the adapter itself, never through a wrapper object: the streams adapter keeps its state in #private
 * fields. Never rejects: the classic adapter swallows a failed `serverCount()` and then never calls the
 * ack, and ClusterAdapter-based ones reject their async `serverSideEmit`; so after the adapter's timeout
 * plus a margin the answer is what came, incomplete. A single-node adapter answers complete at once.
 */
export function emitToOtherNodesWithAck(io: Server, event: string, payload: unknown): Promise<OtherNodesAnswer> {
  const adapter = io.of("/").adapter;
  if (!hasOtherNodes(adapter)) return Promise.resolve({ responses: [], complete: true });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: OtherNodesAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      resolve(answer);
    };
    const backstop = setTimeout(
      () => settle({ responses: [], complete: false }),
      requestTimeoutOf(adapter) + BACKSTOP_MARGIN_MS,
    );
    backstop.unref();
    const ack = (error: Error | null, responses: unknown[] | undefined): void =>
      settle({ responses: Array.isArray(responses) ? responses : [], complete: error === null });
    try {
      const sent: unknown = (adapter.serverSideEmit as (packet: unknown[]) => unknown)([event, payload, ack]);
      if (sent instanceof Promise) sent.catch(() => settle({ responses: [], complete: false }));
    } catch {
      settle({ responses: [], complete: false });
    }
  });
}

/**
 * Whether the adapter's publishing client says it is not connected now. Only `@socket.io/redis-adapter`'s
 * classic adapter exposes it (`pubClient`, public): ioredis or node-redis, read as the Redis store reads
 * its own client (`redisNotReady`). That adapter's `serverSideEmit` does not catch its `publish()`, so a
 * message queued while Redis is down and rejected later (ioredis `maxRetriesPerRequest`) is an unhandled
 * rejection: periodic messages skip such ticks. False when it cannot tell.
 */
export function linkLooksDown(io: Server): boolean {
  const client = (io.of("/").adapter as { pubClient?: unknown }).pubClient;
  if (typeof client !== "object" || client === null) return false;
  return redisNotReady(client) !== undefined;
}

/**
 * The transport of a handshake request (`polling`, `websocket`), for the handshake trace: engine.io's
 * private `req._query` (the query it parsed, set on the request before `allowRequest` and kept on
 * `socket.request`), else the URL's `transport` parameter.
 */
export function transportOf(req: IncomingMessage): string | undefined {
  const parsed = (req as { _query?: { transport?: unknown } })._query?.transport;
  if (typeof parsed === "string") return parsed;
  try {
    return new URL(req.url ?? "/", "http://x").searchParams.get("transport") ?? undefined;
  } catch {
    return undefined;
  }
}
