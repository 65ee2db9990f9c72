import { AsyncLocalStorage } from "node:async_hooks";
import { channel, tracingChannel, type Channel, type TracingChannel } from "node:diagnostics_channel";
import { context, diag, metrics, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type {
  Attributes,
  Context,
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  Span,
  Tracer,
  TracerProvider,
  UpDownCounter,
} from "@opentelemetry/api";

// DESIGN "Observability": spans and metrics made from the library's diagnostics channels, the way
// @opentelemetry/instrumentation-undici makes them from undici's. This entry subscribes to the channels
// by name and never imports the core: an app loads it next to whichever copy of the core it runs.
// Attributes carry names, codes and booleans only; the payloads it reads hold no session id, cookie,
// token or session contents, and it copies none of their free-text fields (`why`, error messages).

import {
  ATTRIBUTES,
  CHANNEL_NAMES,
  DURATION_BUCKETS,
  NAME,
  TELEMETRY_NAMES,
  VERSION,
  type HandshakeContext,
  type StoreContext,
} from "./names.js";

export { ATTRIBUTES, TELEMETRY_NAMES } from "./names.js";

/** Options of {@link sessionAuthInstrumentation}. */
export interface SessionAuthInstrumentationConfig {
  /** Subscribe at once (default `true`, as OpenTelemetry's instrumentations do); `false` waits for `enable()`. */
  enabled?: boolean;
  /** Where spans go. Default: the global one (`trace.getTracerProvider()`), read when enabled. */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global one (`metrics.getMeterProvider()`), read when enabled. */
  meterProvider?: MeterProvider;
}

/**
 * The handle {@link sessionAuthInstrumentation} returns. Its shape is OpenTelemetry's `Instrumentation`
 * (from `@opentelemetry/instrumentation`), so it can be listed in `registerInstrumentations({
 * instrumentations })` or the Node SDK's `instrumentations`, which hand it their providers.
 */
export interface SessionAuthInstrumentation {
  readonly instrumentationName: string;
  readonly instrumentationVersion: string;
  /** Subscribes to the channels (again after `disable()`); a second call does nothing. */
  enable(): void;
  /** Unsubscribes: the library goes back to costing nothing. Spans still open are not exported. */
  disable(): void;
  /** Spans go there from now on (what the Node SDK and `registerInstrumentations` call). */
  setTracerProvider(tracerProvider: TracerProvider): void;
  /** Metrics go there from now on: the instruments are made again on it. */
  setMeterProvider(meterProvider: MeterProvider): void;
  /** Merges `config` into the current one; `enabled` here does not subscribe or unsubscribe (call `enable()` / `disable()`). */
  setConfig(config: SessionAuthInstrumentationConfig): void;
  /** The current configuration; `enabled` is `true` unless it was created with `enabled: false`. */
  getConfig(): SessionAuthInstrumentationConfig;
}

interface Instruments {
  handshakeDuration: Histogram;
  storeDuration: Histogram;
  refusedHandshakes: Counter;
  endedSockets: Counter;
  activeSockets: UpDownCounter;
  pushOperations: Counter;
}

/**
 * Spans and metrics for socket.io-session-auth, made from its `node:diagnostics_channel` channels with
 * `@opentelemetry/api` (an optional peer dependency: install it to use this entry).
 *
 * - Spans: `socket.io-session-auth.handshake` (INTERNAL, a child of the context active when the check
 *   began, or a root), and `socket.io-session-auth.store.get` / `.compareAndSet` for each store call,
 *   children of the handshake they serve. A refused handshake or a failed store call has status ERROR
 *   and `error.type` (the refusal code, or the store error's class name).
 * - Metrics: see {@link TELEMETRY_NAMES}; durations in seconds.
 * - Attribute keys: see {@link ATTRIBUTES}. None holds a session id, a cookie, a token, a user id or
 *   session contents.
 *
 * Sockets connected before it is enabled are not counted in `session_auth.active_sockets`.
 *
 * @example
 * const instrumentation = sessionAuthInstrumentation(); // the global providers, enabled
 * // or: new NodeSDK({ instrumentations: [sessionAuthInstrumentation()] })
 */
export function sessionAuthInstrumentation(config: SessionAuthInstrumentationConfig = {}): SessionAuthInstrumentation {
  let current: SessionAuthInstrumentationConfig = { ...config, enabled: config.enabled ?? true };
  let tracer: Tracer | undefined;
  let instruments: Instruments | undefined;
  let enabled = false;

  const handshake = tracingChannel(CHANNEL_NAMES.handshake) as TracingChannel<Context, HandshakeContext & object>;
  const store = tracingChannel(CHANNEL_NAMES.store);
  const sessionEnd: Channel = channel(CHANNEL_NAMES.sessionEnd);
  const push: Channel = channel(CHANNEL_NAMES.push);
  const socket: Channel = channel(CHANNEL_NAMES.socket);

  // The handshake span's context, for the store calls made during that check: the tracing channel runs
  // the check inside this storage (bindStore), so a store span finds its parent without the app's
  // context manager.
  const inHandshake = new AsyncLocalStorage<Context>();
  const handshakeSpans = new WeakMap<object, Span>();
  const storeSpans = new WeakMap<object, Span>();

  function getTracer(): Tracer {
    tracer ??= (current.tracerProvider ?? trace.getTracerProvider()).getTracer(NAME, VERSION);
    return tracer;
  }

  function getInstruments(): Instruments {
    if (instruments !== undefined) return instruments;
    const meter: Meter = (current.meterProvider ?? metrics.getMeterProvider()).getMeter(NAME, VERSION);
    instruments = {
      handshakeDuration: meter.createHistogram(TELEMETRY_NAMES.handshakeDuration, {
        description: "How long a socket.io handshake's session check took.",
        unit: "s",
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
      storeDuration: meter.createHistogram(TELEMETRY_NAMES.storeDuration, {
        description: "How long a session store call took, timeout included.",
        unit: "s",
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
      refusedHandshakes: meter.createCounter(TELEMETRY_NAMES.refusedHandshakes, {
        description: "Handshakes refused, by code.",
        unit: "{handshake}",
      }),
      endedSockets: meter.createCounter(TELEMETRY_NAMES.endedSockets, {
        description: "Sockets ended by the session lifecycle (logout, expiry, revocation), by code.",
        unit: "{socket}",
      }),
      activeSockets: meter.createUpDownCounter(TELEMETRY_NAMES.activeSockets, {
        description: "Connected sockets admitted by socket.io-session-auth.",
        unit: "{socket}",
      }),
      pushOperations: meter.createCounter(TELEMETRY_NAMES.pushOperations, {
        description: "Push router operations, by operation and outcome.",
        unit: "{operation}",
      }),
    };
    return instruments;
  }

  // A throw from a subscriber or a store transform reaches node:diagnostics_channel, which rethrows it
  // as an uncaught exception: telemetry must never take the server down. Failures go to OpenTelemetry's
  // diagnostic logger instead.
  function safely<A>(name: string, handler: (message: A) => void): (message: unknown) => void {
    return (message) => {
      try {
        handler(message as A);
      } catch (error) {
        diag.error(`${NAME} instrumentation: ${name} failed`, error);
      }
    };
  }

  // --- handshake ----------------------------------------------------------------------------------

  // Runs as the check begins, in the caller's context: opens the span, and is what the check runs under.
  function openHandshake(message: HandshakeContext & object): Context {
    const parent = context.active();
    const span = getTracer().startSpan(
      TELEMETRY_NAMES.handshakeSpan,
      { kind: SpanKind.INTERNAL, attributes: handshakeAttributes(message) },
      parent,
    );
    handshakeSpans.set(message, span);
    return trace.setSpan(parent, span);
  }

  function closeHandshake(message: HandshakeContext & object): void {
    const span = handshakeSpans.get(message);
    handshakeSpans.delete(message);
    // The core sets `outcome` before asyncEnd; a check that threw before it could is a "FORBIDDEN", as
    // the core answers it.
    const ended = message.outcome === undefined ? { ...message, outcome: "FORBIDDEN", retryable: false } : message;
    const attributes = handshakeAttributes(ended);
    if (span !== undefined) {
      span.setAttributes(attributes);
      if (ended.outcome !== "OK") span.setStatus({ code: SpanStatusCode.ERROR, message: ended.outcome });
      span.end();
    }
    const { handshakeDuration, refusedHandshakes } = getInstruments();
    if (typeof ended.durationMs === "number") handshakeDuration.record(ended.durationMs / 1000, attributes);
    if (ended.outcome !== "OK") {
      refusedHandshakes.add(
        1,
        pick(attributes, ATTRIBUTES.errorType, ATTRIBUTES.retryable, ATTRIBUTES.via, ATTRIBUTES.namespace),
      );
    }
  }

  // A check that threw synchronously publishes `error` then `end`, and no asyncEnd.
  function onHandshakeEnd(message: unknown): void {
    const traced = message as HandshakeContext & object;
    if (traced.error !== undefined && handshakeSpans.has(traced)) closeHandshake(traced);
  }
  function onHandshakeAsyncEnd(message: unknown): void {
    closeHandshake(message as HandshakeContext & object);
  }

  // --- store --------------------------------------------------------------------------------------

  function openStore(message: unknown): void {
    const traced = message as StoreContext & object;
    // A store call made during a handshake is that handshake's child; a re-read by the lifecycle (or a
    // write from a socket) is a child of whatever is active, usually nothing.
    const parent = inHandshake.getStore() ?? context.active();
    const span = getTracer().startSpan(
      `${TELEMETRY_NAMES.storeSpan}.${traced.operation ?? "call"}`,
      { kind: SpanKind.INTERNAL, attributes: storeAttributes(traced) },
      parent,
    );
    storeSpans.set(traced, span);
  }

  function closeStore(traced: StoreContext & object, outcome = traced.outcome): void {
    const span = storeSpans.get(traced);
    storeSpans.delete(traced);
    const attributes = storeAttributes({ ...traced, outcome });
    if (span !== undefined) {
      span.setAttributes(attributes);
      if (outcome === "error") span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    if (typeof traced.durationMs === "number") {
      getInstruments().storeDuration.record(traced.durationMs / 1000, attributes);
    }
  }

  function onStoreEnd(message: unknown): void {
    const traced = message as StoreContext & object;
    if (traced.error !== undefined && storeSpans.has(traced)) closeStore(traced, "error");
  }
  function onStoreAsyncEnd(message: unknown): void {
    closeStore(message as StoreContext & object);
  }

  // --- plain channels -----------------------------------------------------------------------------

  function onSessionEnd(message: unknown): void {
    const { code, sockets } = message as { code?: unknown; sockets?: unknown };
    getInstruments().endedSockets.add(typeof sockets === "number" ? sockets : 1, {
      [ATTRIBUTES.endCode]: typeof code === "string" ? code : "UNKNOWN",
    });
  }

  function onSocket(message: unknown): void {
    const { event, namespace } = message as { event?: unknown; namespace?: unknown };
    const attributes: Attributes = typeof namespace === "string" ? { [ATTRIBUTES.namespace]: namespace } : {};
    if (event === "connect") getInstruments().activeSockets.add(1, attributes);
    else if (event === "disconnect") getInstruments().activeSockets.add(-1, attributes);
  }

  function onPush(message: unknown): void {
    const { operation, outcome, status } = message as { operation?: unknown; outcome?: unknown; status?: unknown };
    const attributes: Attributes = {
      [ATTRIBUTES.pushOperation]: typeof operation === "string" ? operation : "unknown",
      [ATTRIBUTES.outcome]: typeof outcome === "string" ? outcome : "unknown",
    };
    if (typeof status === "number") attributes[ATTRIBUTES.httpStatus] = status;
    getInstruments().pushOperations.add(1, attributes);
  }

  const handlers = {
    handshakeEnd: safely("the handshake's end", onHandshakeEnd),
    handshakeAsyncEnd: safely("the handshake's end", onHandshakeAsyncEnd),
    storeStart: safely("a store call's start", openStore),
    storeEnd: safely("a store call's end", onStoreEnd),
    storeAsyncEnd: safely("a store call's end", onStoreAsyncEnd),
    sessionEnd: safely("a session end", onSessionEnd),
    push: safely("a push outcome", onPush),
    socket: safely("a socket event", onSocket),
  };
  // The handshake still runs (in the caller's context) when its span could not be made.
  function safeOpenHandshake(message: HandshakeContext & object): Context {
    try {
      return openHandshake(message);
    } catch (error) {
      diag.error(`${NAME} instrumentation: the handshake's start failed`, error);
      return context.active();
    }
  }

  const instrumentation: SessionAuthInstrumentation = {
    instrumentationName: NAME,
    instrumentationVersion: VERSION,
    enable() {
      if (enabled) return;
      enabled = true;
      handshake.start.bindStore(inHandshake, safeOpenHandshake);
      handshake.end.subscribe(handlers.handshakeEnd);
      handshake.asyncEnd.subscribe(handlers.handshakeAsyncEnd);
      store.start.subscribe(handlers.storeStart);
      store.end.subscribe(handlers.storeEnd);
      store.asyncEnd.subscribe(handlers.storeAsyncEnd);
      sessionEnd.subscribe(handlers.sessionEnd);
      push.subscribe(handlers.push);
      socket.subscribe(handlers.socket);
    },
    disable() {
      if (!enabled) return;
      enabled = false;
      handshake.start.unbindStore(inHandshake);
      handshake.end.unsubscribe(handlers.handshakeEnd);
      handshake.asyncEnd.unsubscribe(handlers.handshakeAsyncEnd);
      store.start.unsubscribe(handlers.storeStart);
      store.end.unsubscribe(handlers.storeEnd);
      store.asyncEnd.unsubscribe(handlers.storeAsyncEnd);
      sessionEnd.unsubscribe(handlers.sessionEnd);
      push.unsubscribe(handlers.push);
      socket.unsubscribe(handlers.socket);
    },
    setTracerProvider(tracerProvider) {
      current = { ...current, tracerProvider };
      tracer = undefined;
    },
    setMeterProvider(meterProvider) {
      current = { ...current, meterProvider };
      instruments = undefined;
    },
    setConfig(config) {
      const { enabled: enable, ...rest } = config;
      current = { ...current, ...rest, enabled: enable ?? current.enabled };
      tracer = undefined;
      instruments = undefined;
    },
    getConfig: () => ({ ...current }),
  };
  if (current.enabled === true) instrumentation.enable();
  return instrumentation;
}

function handshakeAttributes(message: HandshakeContext): Attributes {
  const attributes: Attributes = {};
  if (typeof message.via === "string") attributes[ATTRIBUTES.via] = message.via;
  if (typeof message.transport === "string") attributes[ATTRIBUTES.transport] = message.transport;
  if (typeof message.namespace === "string") attributes[ATTRIBUTES.namespace] = message.namespace;
  if (typeof message.store === "string") attributes[ATTRIBUTES.store] = message.store;
  if (typeof message.signing === "string") attributes[ATTRIBUTES.signing] = message.signing;
  if (typeof message.sharedRead === "boolean") attributes[ATTRIBUTES.sharedRead] = message.sharedRead;
  if (typeof message.outcome === "string") {
    attributes[ATTRIBUTES.outcome] = message.outcome;
    if (message.outcome !== "OK") attributes[ATTRIBUTES.errorType] = message.outcome;
  }
  if (typeof message.retryable === "boolean") attributes[ATTRIBUTES.retryable] = message.retryable;
  return attributes;
}

function storeAttributes(message: StoreContext): Attributes {
  const attributes: Attributes = {};
  if (typeof message.operation === "string") attributes[ATTRIBUTES.operation] = message.operation;
  if (typeof message.store === "string") attributes[ATTRIBUTES.store] = message.store;
  if (typeof message.outcome === "string") attributes[ATTRIBUTES.outcome] = message.outcome;
  // The core hands a copy of the store's error that keeps only its class name (a driver's message may
  // quote a session key): that name is the error.type.
  if (message.outcome === "error") {
    const name = (message.error as { name?: unknown } | undefined)?.name;
    attributes[ATTRIBUTES.errorType] = typeof name === "string" && name !== "" ? name : "Error";
  }
  return attributes;
}

function pick(attributes: Attributes, ...keys: string[]): Attributes {
  const picked: Attributes = {};
  for (const key of keys) if (attributes[key] !== undefined) picked[key] = attributes[key];
  return picked;
}
