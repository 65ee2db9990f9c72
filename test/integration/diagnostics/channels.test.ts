import { channel, tracingChannel } from "node:diagnostics_channel";
import { afterEach, expect, it } from "vitest";
import { sessionAuth, type SessionData, type SessionStore } from "socket.io-session-auth";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { countRefusals } from "../../../docs/examples/observability-channels.js";
import { connect, refusal, startRealtime } from "../../support/realtime.js";

// DESIGN "Observability": the handshake and store tracing channels and the session-end channel, seen by
// a subscriber as an APM would, over a real socket.io server and client. No payload holds the session
// id, the cookie or the session's contents.

const SESSION_ID = "the-session-id-0123456789";
const SECRET_CONTENT = "secret-content-of-the-session";
const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

it("publishes handshakes, store calls and session ends, with no id, cookie or contents", async () => {
  const seen: Array<{ channel: string; event: string; message: Record<string, unknown> }> = [];
  const record = (name: string) =>
    Object.fromEntries(
      (["start", "end", "asyncStart", "asyncEnd", "error"] as const).map((event) => [
        event,
        (message: unknown) => seen.push({ channel: name, event, message: { ...(message as object) } }),
      ]),
    ) as unknown as Parameters<ReturnType<typeof tracingChannel>["subscribe"]>[0];
  const handshakeSubscribers = record("handshake");
  const storeSubscribers = record("store");
  const onEnd = (message: unknown) =>
    seen.push({ channel: "session-end", event: "publish", message: message as never });
  const onSocket = (message: unknown) => seen.push({ channel: "socket", event: "publish", message: message as never });
  tracingChannel("socket.io-session-auth:handshake").subscribe(handshakeSubscribers);
  tracingChannel("socket.io-session-auth:store").subscribe(storeSubscribers);
  channel("socket.io-session-auth:session-end").subscribe(onEnd);
  channel("socket.io-session-auth:socket").subscribe(onSocket);
  opened.push({
    close: () => {
      tracingChannel("socket.io-session-auth:handshake").unsubscribe(handshakeSubscribers);
      tracingChannel("socket.io-session-auth:store").unsubscribe(storeSubscribers);
      channel("socket.io-session-auth:session-end").unsubscribe(onEnd);
      channel("socket.io-session-auth:socket").unsubscribe(onSocket);
    },
  });

  const sessions = new Map<string, SessionData>([[SESSION_ID, { userId: "7", note: SECRET_CONTENT }]]);
  const store: SessionStore = {
    name: "map",
    get: async (id) => (sessions.has(id) ? { session: sessions.get(id)! } : null),
  };
  const auth = sessionAuth({ store, secret: "s", onError: () => {} });
  opened.push(auth);
  const realtime = await startRealtime((io) => void auth.attach(io));
  opened.push(realtime);
  const cookie = signSessionCookie({ value: SESSION_ID, secret: "s" });

  const socket = await connect(realtime.url, { cookie, transports: ["websocket"] });
  opened.push(socket);
  // A second tab of the session, followed here now: it joins the first tab's recent read (no store call).
  const sibling = await connect(realtime.url, { cookie, transports: ["websocket"] });
  opened.push(sibling);
  expect((await refusal(realtime.url, { cookie: signSessionCookie({ value: "x", secret: "s" }) })).message).toBe(
    "SESSION_NOT_FOUND",
  );
  const ended = [socket, sibling].map((each) => new Promise((resolve) => each.once("disconnect", resolve)));
  await auth.endSession(realtime.io, SESSION_ID);
  await Promise.all(ended);
  await new Promise((resolve) => setTimeout(resolve, 50));

  const handshakes = seen.filter((s) => s.channel === "handshake" && s.event === "asyncEnd").map((s) => s.message);
  expect(handshakes).toEqual([
    expect.objectContaining({
      via: "middleware",
      transport: "websocket",
      namespace: "/",
      store: "map",
      signing: "express",
      outcome: "OK",
      retryable: false,
      sharedRead: false,
      durationMs: expect.any(Number),
    }),
    expect.objectContaining({ outcome: "OK", sharedRead: true }),
    expect.objectContaining({
      outcome: "SESSION_NOT_FOUND",
      retryable: false,
      transport: "polling",
      sharedRead: false,
    }),
  ]);
  const stores = seen.filter((s) => s.channel === "store" && s.event === "asyncEnd").map((s) => s.message);
  expect(stores).toEqual([
    expect.objectContaining({ operation: "get", store: "map", outcome: "ok", durationMs: expect.any(Number) }),
    expect.objectContaining({ operation: "get", store: "map", outcome: "miss" }),
  ]);
  expect(seen.filter((s) => s.channel === "session-end").map((s) => s.message)).toEqual([
    { code: "SESSION_NOT_FOUND", why: expect.any(String), sockets: 1 },
    { code: "SESSION_NOT_FOUND", why: expect.any(String), sockets: 1 },
  ]);
  // The two admitted sockets connected, then went when their session ended; the refused one never connected.
  expect(seen.filter((s) => s.channel === "socket").map((s) => s.message)).toEqual([
    { event: "connect", namespace: "/" },
    { event: "connect", namespace: "/" },
    { event: "disconnect", namespace: "/" },
    { event: "disconnect", namespace: "/" },
  ]);

  // Every payload, every field (an error by its code and message): no id, cookie or contents.
  const text = JSON.stringify(seen, (_key, value: unknown) =>
    value instanceof Error ? { message: value.message, code: (value as { code?: unknown }).code } : value,
  );
  for (const forbidden of [SESSION_ID, cookie, encodeURIComponent(cookie), SECRET_CONTENT, cookie.split("=")[1]!])
    expect(text).not.toContain(forbidden);
});

it("publishes the push router's outcomes, with the operation and status only", async () => {
  const { createPushRouter } = await import("socket.io-session-auth/push");
  const seen: unknown[] = [];
  const onPush = (message: unknown) => seen.push(message);
  channel("socket.io-session-auth:push").subscribe(onPush);
  opened.push({ close: () => channel("socket.io-session-auth:push").unsubscribe(onPush) });
  const realtime = await startRealtime(() => {});
  opened.push(realtime);
  const push = createPushRouter(realtime.io, { tokens: "a-push-token-long-enough-to-be-accepted-0123" });
  opened.push(push);
  await push.send({ to: { user: "user-42" }, data: { secret: SECRET_CONTENT } });
  expect(seen).toEqual([{ operation: "message", outcome: "ok", status: 202 }]);
  expect(JSON.stringify(seen)).not.toMatch(/user-42|secret/);
});

it("counts refusals by code as docs/observability.md's fragment shows", async () => {
  const refusals = countRefusals();
  opened.push({ close: () => refusals.stop() });
  const store: SessionStore = { name: "map", get: async () => null };
  const auth = sessionAuth({ store, secret: "s", onError: () => {} });
  opened.push(auth);
  const realtime = await startRealtime((io) => void auth.attach(io));
  opened.push(realtime);
  await refusal(realtime.url, { cookie: signSessionCookie({ value: "x", secret: "s" }) });
  await refusal(realtime.url, { cookie: signSessionCookie({ value: "x", secret: "not-s" }) });
  await refusal(realtime.url, { cookie: signSessionCookie({ value: "y", secret: "not-s" }) });
  expect(Object.fromEntries(refusals.counts)).toEqual({ SESSION_NOT_FOUND: 1, BAD_SIGNATURE: 2 });
});
