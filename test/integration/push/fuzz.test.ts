import { connect as tcpConnect } from "node:net";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPushRouter, type PushError, type PushRouter } from "socket.io-session-auth/push";
import type { Socket as ClientSocket } from "socket.io-client";
import { connect, startRealtime, type Realtime } from "../../support/realtime.js";

// Whatever it is sent, the router answers with its JSON (or Node's own 400 for a request it cannot parse),
// never a 500, never a crash, and the socket.io server keeps serving its sockets.

const TOKEN = "fuzz-token-0123456789abcdef";
let realtime: Realtime;
let push: PushRouter;
let port: number;
let watcher: ClientSocket;
const failures: PushError[] = [];
const received: unknown[] = [];

beforeAll(async () => {
  realtime = await startRealtime(() => {});
  push = createPushRouter(realtime.io, {
    tokens: TOKEN,
    rooms: false,
    maxBodyBytes: 4096,
    readTimeout: 300,
    onError: (error) => failures.push(error),
  });
  push.attach(realtime.http);
  port = (realtime.http.address() as AddressInfo).port;
  watcher = await connect(realtime.url, { transports: ["websocket"] });
  watcher.on("message", (data: unknown) => received.push(data));
  watcher.on("fuzz", (data: unknown) => received.push(data));
});

afterAll(async () => {
  watcher?.close();
  await push?.close();
  await realtime?.close();
});

const ROUTES = [
  "",
  "/batch",
  "/legacy",
  "/disconnect",
  "/rooms/join",
  "/rooms/leave",
  "/presence",
  "/health",
  "/nope",
  "/",
  "//batch",
  "/batch/",
  "/%2e%2e",
];

/** One raw HTTP/1.1 exchange; resolves with the status of the first response (0 if the server closed without one). */
function exchange(raw: Buffer, timeout = 3000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeout} ms to ${JSON.stringify(raw.toString("latin1").slice(0, 300))}`));
    }, timeout);
    socket.on("connect", () => socket.end(raw));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {}); // a reset after the answer is fine: the answer is what counts
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: status === null ? 0 : Number(status[1]), text });
    });
  });
}

const headerValue = fc.oneof(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "",
    "application/json; charset=utf-16",
    `Bearer ${TOKEN}`,
    "Bearer",
    "bearer x",
    "0",
    "-1",
    "99999999999999999999",
    "gzip",
    "identity",
    "br, gzip",
  ),
  fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n\0]/g, "")),
);
const headerName = fc.constantFrom(
  "content-type",
  "authorization",
  "content-length",
  "idempotency-key",
  "transfer-encoding",
  "x-custom",
  "expect",
  "connection",
  "content-encoding",
);

describe("fuzzing the router over raw HTTP (fast-check)", () => {
  it("answers any method, path, headers and body without a 500", async () => {
    const request = fc.record({
      method: fc.constantFrom("POST", "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "POST"),
      route: fc.constantFrom(...ROUTES),
      query: fc.oneof(
        fc.constant(""),
        fc.constantFrom("?token=x", "?a=1", "?", "?access_token", "?%zz"),
        fc.string({ maxLength: 20 }).map((s) => `?${encodeURIComponent(s)}`),
      ),
      auth: fc.boolean(),
      json: fc.boolean(),
      headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
      body: fc.oneof(
        fc.jsonValue().map((value) => JSON.stringify(value)),
        fc.string({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
        fc.constantFrom(
          '{"to":{"all":true},"event":"fuzz"}',
          '{"to":{"room":"r"},"ack":{"timeout":50}}',
          '{"messages":[{"to":{"all":true},"event":"fuzz"}]}',
          '{"type":"all","content":1}',
          '{"users":["1"]}',
          '{"to":{"room":"x"},"rooms":"y"}',
          "[".repeat(5000),
        ),
      ),
      lengthMode: fc.constantFrom("exact", "exact", "none", "chunked", "short"),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const body = Buffer.from(r.body, "latin1");
        const lines = [`${r.method} /push${r.route}${r.query} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
        if (r.auth) lines.push(`Authorization: Bearer ${TOKEN}`);
        if (r.json) lines.push("Content-Type: application/json");
        for (const [name, value] of r.headers) lines.push(`${name}: ${value}`);
        let payload = body;
        if (r.lengthMode === "exact") lines.push(`Content-Length: ${body.length}`);
        else if (r.lengthMode === "short") lines.push(`Content-Length: ${body.length + 10}`);
        else if (r.lengthMode === "chunked") {
          lines.push("Transfer-Encoding: chunked");
          payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]);
        }
        const { status, text } = await exchange(
          Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), payload]),
        );
        expect(status, text.slice(0, 500)).not.toBe(500);
        if (status !== 0 && /content-type: application\/json/i.test(text) && r.method !== "HEAD") {
          const json = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as { ok: unknown };
          expect(typeof json.ok).toBe("boolean");
        }
      }),
      { numRuns: 250 },
    );
    expect(failures).toEqual([]);
  });

  it("answers any JSON body with a 2xx or a 4xx, never a 500", async () => {
    const target = fc.oneof(
      fc.string({ maxLength: 10 }),
      fc.integer(),
      fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.jsonValue()), { maxLength: 4 }),
      fc.jsonValue(),
    );
    const messageLike = fc.record(
      {
        id: fc.oneof(fc.string({ maxLength: 10 }), fc.jsonValue()),
        to: fc.oneof(
          fc.record(
            { room: target, socket: target, all: fc.oneof(fc.constant(true), fc.jsonValue()) },
            { requiredKeys: [] },
          ),
          fc.jsonValue(),
        ),
        except: fc.oneof(fc.record({ room: target, socket: target }, { requiredKeys: [] }), fc.jsonValue()),
        event: fc.oneof(
          fc.constantFrom("fuzz", "connect", "disconnect", "message"),
          fc.string({ maxLength: 20 }),
          fc.jsonValue(),
        ),
        data: fc.jsonValue(),
        namespace: fc.oneof(fc.constantFrom("/", "/x"), fc.jsonValue()),
        ack: fc.oneof(
          fc.record({ timeout: fc.oneof(fc.integer({ min: -5, max: 60 }), fc.jsonValue()) }, { requiredKeys: [] }),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    );
    const bodies = fc.oneof(
      messageLike,
      fc.record({ messages: fc.array(messageLike, { maxLength: 5 }) }),
      fc.record({ users: fc.jsonValue() }),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES.slice(0, 7)), bodies, async (route, body) => {
        const res = await fetch(`http://127.0.0.1:${port}/push${route}`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        const answer = (await res.json()) as { ok: boolean; error?: { code: string } };
        expect(
          res.status < 300 || (res.status >= 400 && res.status < 500),
          JSON.stringify({ route, body, answer }),
        ).toBe(true);
        expect(answer.ok).toBe(res.status < 300);
      }),
      { numRuns: 400 },
    );
    expect(failures).toEqual([]);
  });

  it("refuses any body with a repeated key (400 DUPLICATE_KEY naming it) and sends nothing", async () => {
    const arrived: unknown[] = [];
    watcher.on("dup-fuzz", (data: unknown) => arrived.push(data));
    const field = fc.constantFrom("to", "except", "event", "data", "namespace", "id");
    const value = fc.oneof(
      fc.constant({ all: true }),
      fc.constant({ room: "r" }),
      fc.constant("dup-fuzz"),
      fc.jsonValue({ maxDepth: 2 }),
    );
    await fc.assert(
      fc.asyncProperty(field, value, value, fc.boolean(), async (key, first, second, inBatch) => {
        const message = `{"to":{"all":true},"event":"dup-fuzz",${JSON.stringify(key)}:${JSON.stringify(first)},${JSON.stringify(key)}:${JSON.stringify(second)}}`;
        const body = inBatch ? `{"messages":[${message}]}` : message;
        const res = await fetch(`http://127.0.0.1:${port}/push${inBatch ? "/batch" : ""}`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body,
        });
        const answer = (await res.json()) as { error?: { code: string; path?: string } };
        expect(res.status, body).toBe(400);
        expect(answer.error).toMatchObject({ code: "DUPLICATE_KEY", path: inBatch ? `messages[0].${key}` : key });
      }),
      { numRuns: 150 },
    );
    // A marker sent after them arrives alone: none of the refused bodies reached the socket.
    await fetch(`http://127.0.0.1:${port}/push`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ to: { socket: watcher.id }, event: "dup-fuzz", data: "marker" }),
    });
    await expect.poll(() => arrived).toEqual(["marker"]);
    expect(failures).toEqual([]);
  });

  it("still serves its sockets afterwards", async () => {
    expect(watcher.connected).toBe(true);
    watcher.on("fuzz", (_data: unknown, ack?: () => void) => ack?.());
    const res = await fetch(`http://127.0.0.1:${port}/push`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ to: { socket: watcher.id }, event: "fuzz", data: "still here", ack: { timeout: 2000 } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ recipients: 1, acked: 1, complete: true });
    await expect.poll(() => received.at(-1)).toBe("still here");
    expect((await fetch(`http://127.0.0.1:${port}/push/health`)).status).toBe(200);
  });
});
