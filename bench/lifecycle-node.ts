/**
 * The measured process of bench/lifecycle.ts: one socket.io server, bare or with `sessionAuth` over
 * express-session's MemoryStore (shared in process, as `memoryStore(handle)` is used), re-reading each
 * connected session every `revalidate` ms. Counts the store's reads and the live timers of the process.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth, type SessionAuth } from "socket.io-session-auth";
import { memoryStore, type SessionCallback } from "socket.io-session-auth/memory";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { serveRunner } from "./protocol.js";

export const LIFECYCLE_SECRET = "lifecycle bench secret";

export type LifecycleRequest =
  | { type: "setup"; variant: "bare" | "ours"; sessions: number; revalidate: number }
  | { type: "mark"; gc: boolean }
  | { type: "exit" };

export interface LifecycleMark {
  sockets: number;
  /** Store reads since setup (handshakes and re-reads). */
  reads: number;
  /**
   * The reads among them made for handshakes: those within half a `revalidate` interval of the session's
   * first read. A session's first periodic re-read comes at least half an interval after its entry is
   * made, so none of these is one; the tabs of a session in the storm arrive together.
   */
  handshakeReads: number;
  /** Timers created and not yet fired or cleared, in the whole process (socket.io's own included). */
  timers: number;
  heapUsed: number;
}

// Live timers, counted by wrapping the global timer functions before anything else is loaded here.
const live = new Set<unknown>();
const originalSet = globalThis.setTimeout;
const originalClear = globalThis.clearTimeout;
globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const timer = originalSet(
    (...inner: unknown[]) => {
      live.delete(timer);
      callback(...inner);
    },
    ms,
    ...args,
  );
  live.add(timer);
  return timer;
}) as typeof setTimeout;
globalThis.clearTimeout = ((timer: NodeJS.Timeout | string | number | undefined) => {
  live.delete(timer);
  originalClear(timer);
}) as typeof clearTimeout;

let io: Server | undefined;
let auth: SessionAuth | undefined;
let reads = 0;
let handshakeReads = 0;
const firstRead = new Map<string, number>();
let handshakeWindow = 0;

async function setup(
  request: Extract<LifecycleRequest, { type: "setup" }>,
): Promise<{ port: number; cookies: string[] }> {
  const store = new session.MemoryStore();
  const cookies: string[] = [];
  const maxAge = 3_600_000;
  for (let i = 0; i < request.sessions; i++) {
    const sid = `bench-session-${i}-${Math.random().toString(36).slice(2)}`;
    store.set(sid, {
      cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), httpOnly: true, path: "/" },
      user: { id: i },
    } as never);
    cookies.push(signSessionCookie({ value: sid, secret: LIFECYCLE_SECRET }));
  }
  // The very MemoryStore, with its reads counted.
  handshakeWindow = request.revalidate / 2;
  const counted = {
    get(sid: string, callback: SessionCallback) {
      reads++;
      const now = performance.now();
      const first = firstRead.get(sid);
      if (first === undefined) firstRead.set(sid, now);
      if (first === undefined || now - first < handshakeWindow) handshakeReads++;
      store.get(sid, callback as never);
    },
  };
  const http = createServer();
  io = new Server(http);
  if (request.variant === "ours") {
    // The defaults but for the interval: shared handshake reads (sharedReadMaxAge 5 s) included.
    auth = sessionAuth({ store: memoryStore(counted), secret: LIFECYCLE_SECRET, revalidate: request.revalidate });
    auth.attach(io);
  }
  http.listen(0, "127.0.0.1", 4096);
  await once(http, "listening");
  reads = 0;
  handshakeReads = 0;
  firstRead.clear();
  return { port: (http.address() as AddressInfo).port, cookies };
}

async function handle(request: LifecycleRequest): Promise<unknown> {
  switch (request.type) {
    case "setup":
      return setup(request);
    case "mark": {
      if (request.gc && typeof globalThis.gc === "function") {
        globalThis.gc();
        globalThis.gc();
      }
      return {
        sockets: io?.of("/").sockets.size ?? 0,
        reads,
        handshakeReads,
        timers: live.size,
        heapUsed: process.memoryUsage().heapUsed,
      } satisfies LifecycleMark;
    }
    case "exit":
      await auth?.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

if (process.send !== undefined) serveRunner<LifecycleRequest>(handle);
