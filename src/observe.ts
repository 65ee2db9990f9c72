import { channel, tracingChannel, type TracingChannel } from "node:diagnostics_channel";
import { SessionAuthError } from "./errors.js";

// DESIGN "Observability": the library seen through node:diagnostics_channel, as undici, fastify, ioredis
// and mysql2 are. Nothing is built or published while nobody subscribes (each site checks first), so an
// app without an APM pays one property read per handshake. No payload ever holds a session id, a cookie,
// a token or session contents: only names, codes, counts and durations.

/** The names of the channels, for `diagnostics_channel.tracingChannel(...)` / `.channel(...)`. */
export const CHANNELS = {
  /** Tracing channel: one trace per handshake checked (start, end, asyncStart, asyncEnd, error). */
  handshake: "socket.io-session-auth:handshake",
  /** Tracing channel: one trace per store call (lookups and writes). */
  store: "socket.io-session-auth:store",
  /** Channel: a socket ended by the session lifecycle. */
  sessionEnd: "socket.io-session-auth:session-end",
  /** Channel: an outcome of the push router. */
  push: "socket.io-session-auth:push",
  /** Channel: a socket this library admitted has connected, or has gone (for a count of connected sockets). */
  socket: "socket.io-session-auth:socket",
} as const;

/**
 * The context of a `handshake` trace. Filled as the check goes: `outcome`, `retryable` and `durationMs`
 * are set before `asyncEnd` (and `error`) are published.
 */
export interface HandshakeMessage {
  /** How the handshake came: the socket.io middleware, engine.io's `allowRequest`, a recovered socket's re-check. */
  via: "middleware" | "allowRequest" | "recovery";
  /** engine.io's transport of the request: "polling", "websocket", "webtransport", or undefined. */
  transport: string | undefined;
  /** The socket.io namespace ("/" ...); undefined for `allowRequest` (below namespaces). */
  namespace: string | undefined;
  /** The store's `name`. */
  store: string;
  /** The signing scheme: "express", "fastify", "keygrip" or "none". */
  signing: string;
  /** "OK", or the refusal's code (a `SessionAuthErrorCode`). */
  outcome?: string;
  /** Whether the refusal is retryable (false when accepted). */
  retryable?: boolean;
  /**
   * Whether the handshake joined a shared store read of its session (DESIGN "Reconnect storms"): one in
   * flight for another handshake, or the recent last read of a session this node follows. False when it
   * read the store itself (or was refused before a read). Final by `asyncEnd`/`error`.
   */
  sharedRead: boolean;
  /** Milliseconds the check took. */
  durationMs?: number;
  /** Set by the tracing channel on a refusal: the {@link SessionAuthError} (code, message, retryable; its `cause` may hold driver details). */
  error?: unknown;
}

/** The context of a `store` trace; `outcome` and `durationMs` are set before `asyncEnd` / `error`. */
export interface StoreMessage {
  /** "get" (a handshake lookup or a re-read) or "compareAndSet" (a write from a socket). */
  operation: "get" | "compareAndSet";
  /** The store's `name`. */
  store: string;
  /** "ok", "miss" (get resolved null), "conflict" (compareAndSet resolved false) or "error". */
  outcome?: "ok" | "miss" | "conflict" | "error";
  /** Milliseconds the call took, timeout included. */
  durationMs?: number;
  error?: unknown;
}

/** Published on `session-end` for every socket the lifecycle ends. */
export interface SessionEndMessage {
  /** The end's code ("SESSION_NOT_FOUND" for a logout, "SESSION_EXPIRED", "UNAUTHENTICATED", ...). */
  code: string;
  /** The server-side diagnosis (never an id, a token or session contents). */
  why: string;
  /** How many sockets this end concerned: 1 per message today. */
  sockets: number;
}

/** Published on `push` for each operation of the push router (HTTP or `send()`). */
export interface PushMessage {
  /** The executor's operation: "message", "batch", "disconnect", "join", "leave", "presence", "legacy". */
  operation: string;
  /** "ok", or the refusal's code. */
  outcome: string;
  /** The HTTP status the operation answers, when known. */
  status?: number;
}

/**
 * Published on `socket` when a socket the library admitted connects and when it goes (a disconnect, or
 * ended by the lifecycle). A "disconnect" is published only for a socket whose "connect" was, so a count
 * kept from these stays balanced; sockets connected before anyone listened are not counted.
 */
export interface SocketMessage {
  event: "connect" | "disconnect";
  /** The socket.io namespace ("/" ...). */
  namespace: string;
}

const handshake = tracingChannel<unknown, HandshakeMessage & object>(CHANNELS.handshake) as TracingChannel<
  unknown,
  HandshakeMessage & object
>;
const store = tracingChannel<unknown, StoreMessage & object>(CHANNELS.store) as TracingChannel<
  unknown,
  StoreMessage & object
>;
const sessionEnd = channel(CHANNELS.sessionEnd);
const push = channel(CHANNELS.push);
const socketChannel = channel(CHANNELS.socket);
// The sockets whose "connect" was published: their "disconnect" is (and only theirs).
const announced = new WeakSet<object>();

// TracingChannel#hasSubscribers is Node >= 20.13; the sub-channels' flags work on every Node 20.
function listened(traced: TracingChannel<unknown, object>): boolean {
  return (
    traced.start.hasSubscribers ||
    traced.end.hasSubscribers ||
    traced.asyncStart.hasSubscribers ||
    traced.asyncEnd.hasSubscribers ||
    traced.error.hasSubscribers
  );
}

function isRefusal(error: unknown): error is SessionAuthError {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string";
}

/** Whether anyone listens on the `store` channel (else a lookup may skip the promise `traceStore` needs). */
export function storeTraced(): boolean {
  return listened(store);
}

/** Whether anyone listens on the `handshake` channel (else the glue runs the check without a trace). */
export function handshakeTraced(): boolean {
  return listened(handshake);
}

/**
 * Runs one handshake check under the `handshake` tracing channel, or just runs it when nobody listens.
 * `describe` builds the context only when someone does; `run` gets it, to fill what it learns
 * (`sharedRead`) before it settles.
 */
export function traceHandshake<T>(
  describe: () => HandshakeMessage,
  run: (context: HandshakeMessage | undefined) => Promise<T>,
): Promise<T> {
  if (!listened(handshake)) return run(undefined);
  const context = describe();
  const began = performance.now();
  // The traced promise resolves to nothing: tracePromise puts its result on the context, and the
  // result here holds the session id and contents.
  let result: T;
  let original: unknown;
  return handshake
    .tracePromise(
      () =>
        run(context).then(
          (value) => {
            Object.assign(context, { outcome: "OK", retryable: false, durationMs: performance.now() - began });
            result = value;
          },
          (error: unknown) => {
            Object.assign(context, {
              outcome: isRefusal(error) ? error.code : "FORBIDDEN",
              retryable: isRefusal(error) && (error as SessionAuthError).retryable === true,
              durationMs: performance.now() - began,
            });
            original = error;
            // The context's `error` is a copy without `cause`: a driver's error may quote a session key.
            throw isRefusal(error)
              ? new SessionAuthError(error.code, error.message, { retryable: error.retryable })
              : new Error("Unexpected failure");
          },
        ),
      context,
    )
    .then(
      () => result,
      () => {
        throw original;
      },
    );
}

/** Runs one store call under the `store` tracing channel, or just runs it when nobody listens. */
export function traceStore<T>(
  operation: StoreMessage["operation"],
  storeName: string,
  run: () => Promise<T>,
): Promise<T> {
  if (!listened(store)) return run();
  const context: StoreMessage = { operation, store: storeName };
  const began = performance.now();
  // As for handshakes: the store's answer (a session) never reaches the context.
  let result: T;
  let original: unknown;
  return store
    .tracePromise(
      () =>
        Promise.resolve()
          .then(run)
          .then(
            (value) => {
              const outcome = value === null || value === undefined ? "miss" : value === false ? "conflict" : "ok";
              Object.assign(context, { outcome, durationMs: performance.now() - began });
              result = value;
            },
            (error: unknown) => {
              Object.assign(context, { outcome: "error", durationMs: performance.now() - began });
              original = error;
              throw Object.assign(new Error("The store call failed"), {
                name: error instanceof Error ? error.name : "Error",
              });
            },
          ),
      context,
    )
    .then(
      () => result,
      () => {
        throw original;
      },
    );
}

/** Publishes a lifecycle end on `session-end` when someone listens. */
export function publishSessionEnd(reason: SessionAuthError): void {
  if (!sessionEnd.hasSubscribers) return;
  sessionEnd.publish({ code: reason.code, why: reason.message, sockets: 1 } satisfies SessionEndMessage);
}

/** Publishes a push router outcome on `push` when someone listens (`describe` runs only then). */
export function publishPush(describe: () => PushMessage): void {
  if (!push.hasSubscribers) return;
  push.publish(describe());
}

/** Publishes a connected socket on `socket` when someone listens. */
export function publishSocketConnect(socket: { nsp: { name: string } }): void {
  if (!socketChannel.hasSubscribers || announced.has(socket)) return;
  announced.add(socket);
  socketChannel.publish({ event: "connect", namespace: socket.nsp.name } satisfies SocketMessage);
}

/** Publishes a socket's going on `socket`, if its connect was published (and someone still listens). */
export function publishSocketDisconnect(socket: { nsp: { name: string } }): void {
  if (!announced.delete(socket) || !socketChannel.hasSubscribers) return;
  socketChannel.publish({ event: "disconnect", namespace: socket.nsp.name } satisfies SocketMessage);
}
