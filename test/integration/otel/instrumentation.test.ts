import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { context, SpanStatusCode, trace, type Attributes } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type MetricData,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import { afterEach, expect, it } from "vitest";
import { sessionAuth, type SessionData, type SessionStore } from "socket.io-session-auth";
import { sessionAuthInstrumentation, type SessionAuthInstrumentation } from "socket.io-session-auth/otel";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { ask, connect, refusal, startRealtime } from "../../support/realtime.js";

// DESIGN "Observability": socket.io-session-auth/otel makes spans and metrics from the diagnostics
// channels. Checked with the OpenTelemetry SDK's in-memory exporters over a real socket.io server and
// client: what an operator's backend would receive, and that none of it names the session.

const SESSION_ID = "otel-session-id-0123456789abcdef";
const USER_ID = "user-4711";
const SECRET_CONTENT = "the-users-private-note";
const SECRET = "otel-test-secret";

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

/** The SDK with in-memory exporters, and the instrumentation on its providers. */
function telemetry(): {
  instrumentation: SessionAuthInstrumentation;
  tracer: ReturnType<BasicTracerProvider["getTracer"]>;
  spans(): ReadableSpan[];
  metrics(): Promise<MetricData[]>;
} {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Exported on demand (forceFlush) only: the interval is longer than any test.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = sessionAuthInstrumentation({ tracerProvider, meterProvider });
  opened.push({
    close: async () => {
      instrumentation.disable();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  });
  return {
    instrumentation,
    tracer: tracerProvider.getTracer("the app"),
    spans: () => spanExporter.getFinishedSpans(),
    metrics: async () => {
      await reader.forceFlush();
      const exported = metricExporter.getMetrics();
      return exported.at(-1)?.scopeMetrics.flatMap((scope) => scope.metrics) ?? [];
    },
  };
}

function points(metrics: MetricData[], name: string): Array<DataPoint<unknown>> {
  return (metrics.find((metric) => metric.descriptor.name === name)?.dataPoints ?? []) as Array<DataPoint<unknown>>;
}

/** A store over a Map that can write back, so both store operations are traced. */
function mapStore(): SessionStore {
  const sessions = new Map<string, SessionData>([[SESSION_ID, { userId: USER_ID, note: SECRET_CONTENT }]]);
  return {
    name: "map",
    get: async (id) =>
      sessions.has(id) ? { session: sessions.get(id)!, revision: JSON.stringify(sessions.get(id)) } : null,
    compareAndSet: async (id, revision, session) => {
      if (JSON.stringify(sessions.get(id)) !== revision) return false;
      sessions.set(id, session);
      return true;
    },
  };
}

async function server() {
  const auth = sessionAuth({ store: mapStore(), secret: SECRET, onError: () => {} });
  opened.push(auth);
  const realtime = await startRealtime((io) => {
    auth.attach(io);
    io.on("connection", (socket) =>
      socket.on("note", async (note: string, ack: (ok: boolean) => void) => {
        await auth.update(socket, (session) => void (session.note = note));
        ack(true);
      }),
    );
  });
  opened.push(realtime);
  return { auth, realtime, cookie: signSessionCookie({ value: SESSION_ID, secret: SECRET }) };
}

it("makes a span per handshake with its store call as a child, and the duration metrics", async () => {
  const otel = telemetry();
  const { realtime, cookie } = await server();

  const socket = await connect(realtime.url, { cookie, transports: ["websocket"] });
  opened.push(socket);

  const handshake = otel.spans().find((span) => span.name === "socket.io-session-auth.handshake");
  expect(handshake?.attributes).toEqual({
    "session_auth.via": "middleware",
    "session_auth.transport": "websocket",
    "messaging.socket.io.namespace": "/",
    "session_auth.store": "map",
    "session_auth.signing": "express",
    "session_auth.shared_read": false,
    "session_auth.outcome": "OK",
    "session_auth.retryable": false,
  });
  // Instrumentations leave a success UNSET (the app decides what OK means).
  expect(handshake?.status.code).toBe(SpanStatusCode.UNSET);
  const lookup = otel.spans().find((span) => span.name === "socket.io-session-auth.store.get");
  expect(lookup?.attributes).toEqual({
    "session_auth.store.operation": "get",
    "session_auth.store": "map",
    "session_auth.outcome": "ok",
  });
  expect(lookup?.parentSpanContext?.spanId).toBe(handshake?.spanContext().spanId);
  expect(lookup?.spanContext().traceId).toBe(handshake?.spanContext().traceId);

  // A write from the socket (update) is a store span of its own, outside any handshake.
  await ask(socket, "note", "changed");
  const write = otel.spans().find((span) => span.name === "socket.io-session-auth.store.compareAndSet");
  expect(write?.attributes).toMatchObject({
    "session_auth.store.operation": "compareAndSet",
    "session_auth.outcome": "ok",
  });

  const metrics = await otel.metrics();
  const durations = points(metrics, "session_auth.handshake.duration");
  expect(durations).toHaveLength(1);
  expect(durations[0]!.attributes).toMatchObject({ "session_auth.outcome": "OK", "session_auth.via": "middleware" });
  const histogram = durations[0]!.value as { count: number; sum: number; buckets: { boundaries: number[] } };
  expect(histogram.count).toBe(1);
  // Boundaries in seconds, fine enough for a check of a millisecond.
  expect(histogram.buckets.boundaries.slice(0, 3)).toEqual([0.0005, 0.001, 0.0025]);
  // Seconds, not milliseconds: a loopback handshake takes well under a second.
  expect(histogram.sum).toBeGreaterThan(0);
  expect(histogram.sum).toBeLessThan(5);
  expect(metrics.find((m) => m.descriptor.name === "session_auth.handshake.duration")?.descriptor.unit).toBe("s");
  const storeCalls = points(metrics, "session_auth.store.duration").map((point) => point.attributes);
  expect(storeCalls).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ "session_auth.store.operation": "get", "session_auth.outcome": "ok" }),
      expect.objectContaining({ "session_auth.store.operation": "compareAndSet", "session_auth.outcome": "ok" }),
    ]),
  );
  expect(points(metrics, "session_auth.active_sockets")).toEqual([
    expect.objectContaining({ attributes: { "messaging.socket.io.namespace": "/" }, value: 1 }),
  ]);
});

it("opens the handshake span under the context active when the check begins (an HTTP server span)", async () => {
  const otel = telemetry();
  // The app's context manager, as the Node SDK registers it.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  opened.push({ close: () => context.disable() });
  const auth = sessionAuth({ store: mapStore(), secret: SECRET, onError: () => {} });
  opened.push(auth);
  // engine.io calls allowRequest from the HTTP request's handler: here, under a server span of the app's.
  const http = createServer((req, res) => {
    const request = otel.tracer.startSpan("GET /socket.io/");
    context.with(trace.setSpan(context.active(), request), () =>
      auth.allowRequest(req, (code, ok) => {
        request.end();
        res.end(ok ? "ok" : String(code));
      }),
    );
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  opened.push({ close: () => new Promise((resolve) => http.close(resolve)) });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/socket.io/?EIO=4&transport=polling`;
  const cookie = signSessionCookie({ value: SESSION_ID, secret: SECRET });
  expect(await (await fetch(url, { headers: { cookie } })).text()).toBe("ok");

  const request = otel.spans().find((span) => span.name === "GET /socket.io/");
  const handshake = otel.spans().find((span) => span.name === "socket.io-session-auth.handshake");
  const lookup = otel.spans().find((span) => span.name === "socket.io-session-auth.store.get");
  expect(handshake?.attributes).toMatchObject({
    "session_auth.via": "allowRequest",
    "session_auth.transport": "polling",
  });
  expect(handshake?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
  expect(lookup?.parentSpanContext?.spanId).toBe(handshake?.spanContext().spanId);
  expect(new Set([request, handshake, lookup].map((span) => span?.spanContext().traceId)).size).toBe(1);
});

it("marks a refused handshake as an error and counts refusals by code", async () => {
  const otel = telemetry();
  const { realtime } = await server();

  const missing = signSessionCookie({ value: "no-such-session", secret: SECRET });
  expect((await refusal(realtime.url, { cookie: missing })).message).toBe("SESSION_NOT_FOUND");
  const forged = signSessionCookie({ value: SESSION_ID, secret: "not-the-secret" });
  expect((await refusal(realtime.url, { cookie: forged })).message).toBe("BAD_SIGNATURE");
  expect((await refusal(realtime.url, { cookie: forged })).message).toBe("BAD_SIGNATURE");

  const handshakes = otel.spans().filter((span) => span.name === "socket.io-session-auth.handshake");
  expect(handshakes.map((span) => [span.status, span.attributes["error.type"]])).toEqual([
    [{ code: SpanStatusCode.ERROR, message: "SESSION_NOT_FOUND" }, "SESSION_NOT_FOUND"],
    [{ code: SpanStatusCode.ERROR, message: "BAD_SIGNATURE" }, "BAD_SIGNATURE"],
    [{ code: SpanStatusCode.ERROR, message: "BAD_SIGNATURE" }, "BAD_SIGNATURE"],
  ]);
  // The store said "no such session": a miss, not a failure of the store.
  const lookup = otel.spans().find((span) => span.name === "socket.io-session-auth.store.get");
  expect(lookup?.attributes["session_auth.outcome"]).toBe("miss");
  expect(lookup?.status.code).toBe(SpanStatusCode.UNSET);

  const refused = points(await otel.metrics(), "session_auth.refused_handshakes");
  const byCode = Object.fromEntries(refused.map((point) => [point.attributes["error.type"], point.value]));
  expect(byCode).toEqual({ SESSION_NOT_FOUND: 1, BAD_SIGNATURE: 2 });
});

it("marks a failed store call as an error named by the driver error's class, and the refusal as retryable", async () => {
  const otel = telemetry();
  class ConnectionLost extends Error {
    override name = "ConnectionLost";
  }
  const failing: SessionStore = {
    name: "down",
    get: async (id) => {
      throw new ConnectionLost(`lost while reading sess:${id}`);
    },
  };
  const auth = sessionAuth({ store: failing, secret: SECRET, onError: () => {} });
  opened.push(auth);
  const realtime = await startRealtime((io) => void auth.attach(io));
  opened.push(realtime);
  const cookie = signSessionCookie({ value: SESSION_ID, secret: SECRET });
  expect((await refusal(realtime.url, { cookie, transports: ["websocket"] })).data).toEqual({
    code: "STORE_UNAVAILABLE",
    retryable: true,
  });

  const lookup = otel.spans().find((span) => span.name === "socket.io-session-auth.store.get");
  expect(lookup?.status.code).toBe(SpanStatusCode.ERROR);
  expect(lookup?.attributes).toMatchObject({ "session_auth.outcome": "error", "error.type": "ConnectionLost" });
  const handshake = otel.spans().find((span) => span.name === "socket.io-session-auth.handshake");
  expect(handshake?.attributes).toMatchObject({
    "error.type": "STORE_UNAVAILABLE",
    "session_auth.retryable": true,
  });
  // The driver's message (it quotes the session key here) reaches no span.
  expect(JSON.stringify(otel.spans().map((span) => [span.attributes, span.events, span.status]))).not.toContain(
    SESSION_ID,
  );
});

it("counts the sockets a logout ends, and the connected sockets going back to zero", async () => {
  const otel = telemetry();
  const { auth, realtime, cookie } = await server();
  const socket = await connect(realtime.url, { cookie, transports: ["websocket"] });
  opened.push(socket);
  expect(points(await otel.metrics(), "session_auth.active_sockets")[0]?.value).toBe(1);

  const gone = new Promise((resolve) => socket.once("disconnect", resolve));
  await auth.endSession(realtime.io, SESSION_ID);
  await gone;

  const metrics = await otel.metrics();
  expect(points(metrics, "session_auth.ended_sockets")).toEqual([
    expect.objectContaining({ attributes: { "session_auth.end.code": "SESSION_NOT_FOUND" }, value: 1 }),
  ]);
  expect(points(metrics, "session_auth.active_sockets")[0]?.value).toBe(0);
});

it("exports nothing more once disabled, and again once enabled", async () => {
  const otel = telemetry();
  const { realtime, cookie } = await server();
  const open = async () => {
    const socket = await connect(realtime.url, { cookie, transports: ["websocket"] });
    socket.close();
  };
  const handshakes = () => otel.spans().filter((span) => span.name === "socket.io-session-auth.handshake").length;
  const counted = async () =>
    (points(await otel.metrics(), "session_auth.handshake.duration")[0]?.value as { count: number } | undefined)?.count;

  await open();
  expect(handshakes()).toBe(1);
  otel.instrumentation.disable();
  await open();
  await open();
  expect(handshakes()).toBe(1);
  expect(await counted()).toBe(1);
  otel.instrumentation.enable();
  await open();
  expect(handshakes()).toBe(2);
  expect(await counted()).toBe(2);
});

it("puts no session id, cookie, key, user id or session contents in any span or metric", async () => {
  const otel = telemetry();
  const { auth, realtime, cookie } = await server();
  const socket = await connect(realtime.url, { cookie });
  opened.push(socket);
  await ask(socket, "note", SECRET_CONTENT + "-2");
  const forged = signSessionCookie({ value: SESSION_ID, secret: "not-the-secret" });
  await refusal(realtime.url, { cookie: forged });
  await refusal(realtime.url, { cookie: signSessionCookie({ value: SESSION_ID + "x", secret: SECRET }) });
  const gone = new Promise((resolve) => socket.once("disconnect", resolve));
  await auth.endSession(realtime.io, SESSION_ID);
  await gone;

  const spans = otel.spans();
  const metrics = await otel.metrics();
  expect(spans.length).toBeGreaterThanOrEqual(6);
  expect(metrics.length).toBeGreaterThanOrEqual(5);
  // Every name, attribute, event and status of every span; every attribute of every data point.
  const exported: unknown[] = [
    ...spans.map((span) => [span.name, span.attributes, span.events, span.status, span.links]),
    ...metrics.flatMap((metric) => [metric.descriptor, ...metric.dataPoints.map((point) => point.attributes)]),
  ];
  const values = JSON.stringify(exported);
  const value = cookie.slice(cookie.indexOf("=") + 1);
  const sha256 = (text: string) => createHash("sha256").update(text).digest();
  const forbidden = [
    SESSION_ID,
    cookie,
    value,
    decodeURIComponent(value),
    forged.slice(forged.indexOf("=") + 1),
    sha256(SESSION_ID).toString("hex"),
    sha256(SESSION_ID).toString("base64url"),
    SECRET,
    USER_ID,
    SECRET_CONTENT,
  ];
  for (const secret of forbidden) expect(values).not.toContain(secret);
  // And the attribute values are only names, codes, booleans and numbers (nothing free-text).
  const attributes: Attributes[] = exported.flatMap((entry) =>
    Array.isArray(entry)
      ? [entry[1] as Attributes]
      : typeof entry === "object" && entry !== null && !("name" in entry)
        ? [entry as Attributes]
        : [],
  );
  for (const each of attributes)
    for (const attribute of Object.values(each))
      expect(
        typeof attribute === "boolean" || typeof attribute === "number" || /^[\w./-]{1,40}$/.test(String(attribute)),
      ).toBe(true);
});

it("never fails a handshake when the telemetry throws", async () => {
  const broken = () => {
    throw new Error("broken exporter");
  };
  const instrumentation = sessionAuthInstrumentation({
    tracerProvider: { getTracer: () => ({ startSpan: broken, startActiveSpan: broken }) } as never,
    meterProvider: { getMeter: broken } as never,
  });
  opened.push({ close: () => instrumentation.disable() });
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on("uncaughtException", onUncaught);
  opened.push({ close: () => process.off("uncaughtException", onUncaught) });
  const { auth, realtime, cookie } = await server();

  const socket = await connect(realtime.url, { cookie, transports: ["websocket"] });
  opened.push(socket);
  expect((await refusal(realtime.url, { cookie: "connect.sid=s%3Ax.y" })).message).toBe("BAD_SIGNATURE");
  const gone = new Promise((resolve) => socket.once("disconnect", resolve));
  await auth.endSession(realtime.io, SESSION_ID);
  await gone;
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(uncaught).toEqual([]);
});

it("names its version as package.json does", () => {
  const { version } = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  const instrumentation = sessionAuthInstrumentation({ enabled: false });
  expect(instrumentation.instrumentationName).toBe("socket.io-session-auth");
  expect(instrumentation.instrumentationVersion).toBe(version);
});
