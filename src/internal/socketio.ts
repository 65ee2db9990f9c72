import type { BroadcastOperator, Namespace, Server, Socket } from "socket.io";

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

/** Listens on the main namespace for `event` sent by other nodes' {@link emitToOtherNodes} (a Namespace is an EventEmitter). */
export function onOtherNodes(io: Server, event: string, listener: (payload: unknown) => void): void {
  (io.of("/") as unknown as NodeJS.EventEmitter).on(event, listener);
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
