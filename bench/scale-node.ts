/**
 * One measured socket.io node of bench/scale.ts: socket.io on @socket.io/redis-adapter over a shared
 * redis-server, either bare or with `sessionAuth` + `redisStore` + the push router. Two of these run per
 * variant; the runner asks each for CPU and memory marks around every phase.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { createPushRouter, type PushRouter } from "socket.io-session-auth/push";
import { redisStore } from "socket.io-session-auth/redis";
import { serveRunner } from "./protocol.js";

export const SCALE_SECRET = "bench secret";
export const SCALE_TOKEN = "scale-bench-token-0123456789abcdef";

export type ScaleVariant = "bare" | "ours";

export type NodeRequest =
  | { type: "setup"; variant: ScaleVariant; redisPort: number }
  | { type: "mark"; gc: boolean }
  | { type: "push"; ack: boolean; timeoutMs: number }
  | { type: "exit" };

export interface NodeMark {
  sockets: number;
  servers: number;
  /** process.cpuUsage(), µs. */
  user: number;
  system: number;
  heapUsed: number;
  rss: number;
}

export interface PushOutcome {
  /** Date.now() just before the emit, and when the answer (with acks) came back. */
  sentAt: number;
  answeredAt: number;
  recipients: number | null;
  acked: number | null;
  complete: boolean | null;
}

let io: Server | undefined;
let push: PushRouter | undefined;
let variant: ScaleVariant = "bare";
const closers: Array<() => unknown> = [];

async function setup(request: Extract<NodeRequest, { type: "setup" }>): Promise<{ port: number }> {
  variant = request.variant;
  const pub = new Redis(request.redisPort, "127.0.0.1");
  const sub = pub.duplicate();
  const sessions = pub.duplicate();
  for (const client of [pub, sub, sessions]) client.on("error", () => {});
  closers.push(
    () => pub.disconnect(),
    () => sub.disconnect(),
    () => sessions.disconnect(),
  );
  const http = createServer();
  io = new Server(http, { adapter: createAdapter(pub, sub) });
  if (variant === "ours") {
    const auth = sessionAuth({ store: redisStore({ client: sessions }), secret: SCALE_SECRET, timeout: 10_000 });
    io.use(auth);
    push = createPushRouter(io, { tokens: [SCALE_TOKEN], auth });
    push.attach(http);
  }
  io.on("connection", () => {});
  // A storm opens thousands of connections at once: with Node's default backlog (511) the kernel drops
  // SYNs and clients wait out TCP retransmits, which would time the kernel rather than the server.
  http.listen({ port: 0, host: "127.0.0.1", backlog: 4096 });
  await once(http, "listening");
  return { port: (http.address() as AddressInfo).port };
}

async function mark(gc: boolean): Promise<NodeMark> {
  if (gc && typeof globalThis.gc === "function") {
    // Twice: the first pass can leave garbage that only a second finds (weak maps, finalizers).
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
  }
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    sockets: io!.of("/").sockets.size,
    servers: await io!.of("/").adapter.serverCount(),
    user: cpu.user,
    system: cpu.system,
    heapUsed: memory.heapUsed,
    rss: memory.rss,
  };
}

async function fanOut(ack: boolean, timeoutMs: number): Promise<PushOutcome> {
  const sentAt = Date.now();
  if (variant === "ours") {
    const answer = ack
      ? await push!.send({ to: { all: true }, event: "fanout", data: { sentAt }, ack: { timeout: timeoutMs } })
      : await push!.send({ to: { all: true }, event: "fanout", data: { sentAt } });
    // Without ack the answer is { ok, id } (202): no counts to give.
    const counted = answer as { recipients?: number; acked?: number; complete?: boolean };
    return {
      sentAt,
      answeredAt: Date.now(),
      recipients: counted.recipients ?? null,
      acked: counted.acked ?? null,
      complete: counted.complete ?? null,
    };
  }
  if (!ack) {
    io!.emit("fanout", { sentAt });
    return { sentAt, answeredAt: Date.now(), recipients: null, acked: null, complete: null };
  }
  try {
    const responses = await io!.timeout(timeoutMs).emitWithAck("fanout", { sentAt });
    return { sentAt, answeredAt: Date.now(), recipients: null, acked: responses.length, complete: true };
  } catch {
    return { sentAt, answeredAt: Date.now(), recipients: null, acked: null, complete: false };
  }
}

async function handle(request: NodeRequest): Promise<unknown> {
  switch (request.type) {
    case "setup":
      return setup(request);
    case "mark":
      return mark(request.gc);
    case "push":
      return fanOut(request.ack, request.timeoutMs);
    case "exit":
      io?.disconnectSockets(true);
      await io?.close();
      for (const close of closers) close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

// Only when run as a child of the runner (the types above are imported by it too).
if (process.send !== undefined) serveRunner<NodeRequest>(handle);
