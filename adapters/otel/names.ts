// The names /otel uses and makes: the channels it reads (spelled out, never imported from the core), the
// spans, metrics and attribute keys it makes, and the fields it reads of each channel's payload.

export const NAME = "socket.io-session-auth";
// Kept equal to package.json's version by test/integration/otel/instrumentation.test.ts.
export const VERSION = "0.1.0";

// Seconds. The SDK's default boundaries (0, 5, 10, 25 ... 10000) are made for milliseconds and would put
// every check (a millisecond or less from memory, a few from Redis) in the first bucket; these run from
// half a millisecond to the store timeout's order (2 s by default). Advice needs @opentelemetry/api 1.7+
// (older APIs ignore it and the SDK's defaults apply); a View overrides it.
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The names of the channels read here: the core's `CHANNELS`, spelled out so this entry never imports it. */
export const CHANNEL_NAMES = {
  handshake: `${NAME}:handshake`,
  store: `${NAME}:store`,
  sessionEnd: `${NAME}:session-end`,
  push: `${NAME}:push`,
  socket: `${NAME}:socket`,
} as const;

/** The span and metric names this instrumentation makes. */
export const TELEMETRY_NAMES = {
  /** Span: one handshake checked (the socket.io middleware, `allowRequest`, or a recovered socket's re-check). */
  handshakeSpan: `${NAME}.handshake`,
  /** Span prefix: one store call, `socket.io-session-auth.store.get` / `.compareAndSet`. */
  storeSpan: `${NAME}.store`,
  /** Histogram, seconds: how long a handshake check took, by outcome. */
  handshakeDuration: "session_auth.handshake.duration",
  /** Histogram, seconds: how long a store call took, timeout included. */
  storeDuration: "session_auth.store.duration",
  /** Counter, `{handshake}`: refused handshakes, by code (`error.type`). */
  refusedHandshakes: "session_auth.refused_handshakes",
  /** Counter, `{socket}`: sockets ended by the session lifecycle, by code (`session_auth.end.code`). */
  endedSockets: "session_auth.ended_sockets",
  /** UpDownCounter, `{socket}`: connected sockets that the library admitted, by namespace. */
  activeSockets: "session_auth.active_sockets",
  /** Counter, `{operation}`: push router operations, by operation and outcome. */
  pushOperations: "session_auth.push.operations",
} as const;

/** The attribute keys set on spans and metrics. Namespaced `session_auth.*`, but for two shared ones. */
export const ATTRIBUTES = {
  /** The socket.io namespace ("/" ...); the key of OpenTelemetry's socket.io instrumentation. */
  namespace: "messaging.socket.io.namespace",
  /** Semantic conventions' `error.type`: the refusal code, or the store error's class name. */
  errorType: "error.type",
  /** How the handshake came: "middleware", "allowRequest" or "recovery". */
  via: "session_auth.via",
  /** engine.io's transport: "polling", "websocket" or "webtransport". */
  transport: "session_auth.transport",
  /** The store's `name` ("redis", "memory" ...). */
  store: "session_auth.store",
  /** The cookie signing scheme: "express", "fastify", "keygrip" or "none". */
  signing: "session_auth.signing",
  /** "OK" or the refusal code (handshakes); "ok", "miss", "conflict" or "error" (store calls). */
  outcome: "session_auth.outcome",
  /** Whether the refused client may retry (a store outage), false otherwise. */
  retryable: "session_auth.retryable",
  /** Whether the store read was shared with another handshake of the same session. */
  sharedRead: "session_auth.shared_read",
  /** The store call: "get" or "compareAndSet". */
  operation: "session_auth.store.operation",
  /** Why the lifecycle ended a socket: its code ("SESSION_NOT_FOUND" for a logout, "SESSION_EXPIRED" ...). */
  endCode: "session_auth.end.code",
  /** The push router's operation ("message", "batch", "disconnect" ...). */
  pushOperation: "session_auth.push.operation",
  /** The HTTP status a push operation answers. */
  httpStatus: "http.response.status_code",
} as const;

// The fields read from each channel's payload (the core's HandshakeMessage, StoreMessage, ...).
export interface HandshakeContext {
  via?: string;
  transport?: string;
  namespace?: string;
  store?: string;
  signing?: string;
  outcome?: string;
  retryable?: boolean;
  sharedRead?: boolean;
  durationMs?: number;
  error?: unknown;
}
export interface StoreContext {
  operation?: string;
  store?: string;
  outcome?: string;
  durationMs?: number;
  error?: unknown;
}
