import { EventEmitter } from "node:events";
import { afterEach, expect, it } from "vitest";
import { sessionAuth, type SessionData, type SessionStore } from "socket.io-session-auth";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { connect, startRealtime } from "../../support/realtime.js";

const closers: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of closers.splice(0).reverse()) await each.close();
});

/** A store with live revocation: destroy() (the web app's logout, here) tells every subscriber. */
function revocableStore(): SessionStore & { sessions: Map<string, SessionData>; destroy(id: string): Promise<void> } {
  const sessions = new Map<string, SessionData>();
  const events = new EventEmitter();
  return {
    name: "revocable",
    sessions,
    get: async (id) => (sessions.has(id) ? { session: sessions.get(id)!, expires: null } : null),
    destroy: async (id) => {
      sessions.delete(id);
      events.emit("destroyed", id);
    },
    subscribe: (onDestroyed) => {
      events.on("destroyed", onDestroyed);
      return () => events.off("destroyed", onDestroyed);
    },
  };
}

it("disconnects the sockets of a destroyed session at once, and only those", async () => {
  const store = revocableStore();
  store.sessions.set("sid-a", { user: { id: "a" } });
  store.sessions.set("sid-b", { user: { id: "b" } });
  const auth = sessionAuth({ store, secret: "s" });
  closers.push({ close: () => auth.close() });
  const realtime = await startRealtime((io) => {
    io.use(auth);
    io.of("/chat").use(auth);
  });
  closers.push(realtime);
  const cookieA = signSessionCookie({ value: "sid-a", secret: "s" });
  const a1 = await connect(realtime.url, { cookie: cookieA });
  const a2 = await connect(realtime.url, { cookie: cookieA, namespace: "/chat" });
  const b = await connect(realtime.url, { cookie: signSessionCookie({ value: "sid-b", secret: "s" }) });
  closers.push(a1, a2, b);

  const gone = Promise.all([a1, a2].map((socket) => new Promise((resolve) => socket.once("disconnect", resolve))));
  await store.destroy!("sid-a");
  expect(await gone).toEqual(["io server disconnect", "io server disconnect"]);
  expect(b.connected).toBe(true);
});

it("works with session rooms turned off, through its own bookkeeping", async () => {
  const store = revocableStore();
  store.sessions.set("sid-a", { userId: "a" });
  const auth = sessionAuth({ store, secret: "s", rooms: false });
  closers.push({ close: () => auth.close() });
  const realtime = await startRealtime((io) => void io.use(auth));
  closers.push(realtime);
  const socket = await connect(realtime.url, { cookie: signSessionCookie({ value: "sid-a", secret: "s" }) });
  closers.push(socket);
  const gone = new Promise((resolve) => socket.once("disconnect", resolve));
  await store.destroy!("sid-a");
  expect(await gone).toBe("io server disconnect");
});

it("a store whose subscribe() throws does not crash or hang the handshake, and is retried", async () => {
  const store = revocableStore();
  store.sessions.set("sid", { userId: 1 });
  let calls = 0;
  const subscribe = store.subscribe!;
  store.subscribe = (listener) => {
    calls++;
    if (calls === 1) throw new Error("subscriber connection is closed");
    return subscribe(listener);
  };
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) =>
    void (warning.code === "SOCKET_IO_SESSION_AUTH_SUBSCRIBE" && warnings.push(warning.message));
  process.on("warning", onWarning);
  closers.push({ close: () => process.off("warning", onWarning) });
  const auth = sessionAuth({ store, secret: "s" });
  closers.push({ close: () => auth.close() });
  const realtime = await startRealtime((io) => void io.use(auth));
  closers.push(realtime);
  const cookie = signSessionCookie({ value: "sid", secret: "s" });
  const first = await connect(realtime.url, { cookie });
  const second = await connect(realtime.url, { cookie });
  closers.push(first, second);
  expect(calls).toBe(2);
  await new Promise((resolve) => setImmediate(resolve));
  expect(warnings.join("\n")).toContain("live revocation is off");
  const gone = Promise.all(
    [first, second].map((socket) => new Promise((resolve) => socket.once("disconnect", resolve))),
  );
  await store.destroy!("sid");
  await gone;
});

it("close() ends the subscription", async () => {
  const store = revocableStore();
  store.sessions.set("sid", { userId: 1 });
  const auth = sessionAuth({ store, secret: "s" });
  const realtime = await startRealtime((io) => void io.use(auth));
  closers.push(realtime);
  const socket = await connect(realtime.url, { cookie: signSessionCookie({ value: "sid", secret: "s" }) });
  closers.push(socket);
  auth.close();
  await store.destroy!("sid");
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(socket.connected).toBe(true);
});
