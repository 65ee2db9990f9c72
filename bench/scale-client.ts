/**
 * Load for bench/scale.ts: real socket.io-client connections (websocket), each with its own session
 * cookie, opened against one node and kept open; records when each socket received the fan-out event
 * and acknowledges it. Reports its own CPU so a saturated load generator shows in the results.
 */
import { io as ioClient, type Socket } from "socket.io-client";
import { serveRunner } from "./protocol.js";

export type LoadRequest =
  | { type: "open"; url: string; cookies: string[]; concurrency: number; timeoutMs: number }
  | { type: "arrivals"; since: number }
  | { type: "close" }
  | { type: "cpu" }
  | { type: "exit" };

export interface LoadOpened {
  connected: number;
  failed: number;
  sample?: string;
  /** When the first connection was started and the last one connected (Date.now()). */
  startedAt: number;
  doneAt: number;
}

export interface LoadArrivals {
  received: number;
  /** Date.now() of the last socket's arrival, or null when none arrived. */
  last: number | null;
}

const open: Socket[] = [];
let arrivals: number[] = [];

function one(url: string, cookie: string, timeoutMs: number): Promise<string | null> {
  const socket = ioClient(url, {
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    transports: ["websocket"],
    extraHeaders: { cookie },
  });
  open.push(socket);
  socket.on("fanout", (_data: unknown, ack?: (value: string) => void) => {
    arrivals.push(Date.now());
    ack?.("ok");
  });
  return new Promise((resolve) => {
    socket.once("connect", () => resolve(null));
    socket.once("connect_error", (error: Error) => resolve(error.message));
  });
}

async function openAll(request: Extract<LoadRequest, { type: "open" }>): Promise<LoadOpened> {
  const startedAt = Date.now();
  let next = 0;
  let connected = 0;
  let failed = 0;
  let sample: string | undefined;
  const worker = async () => {
    while (next < request.cookies.length) {
      const error = await one(request.url, request.cookies[next++]!, request.timeoutMs);
      if (error === null) connected++;
      else {
        failed++;
        sample ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(request.concurrency, request.cookies.length) }, worker));
  return { connected, failed, sample, startedAt, doneAt: Date.now() };
}

async function handle(request: LoadRequest): Promise<unknown> {
  switch (request.type) {
    case "open":
      return openAll(request);
    case "arrivals": {
      const mine = arrivals.filter((at) => at >= request.since);
      arrivals = [];
      return { received: mine.length, last: mine.length === 0 ? null : Math.max(...mine) } satisfies LoadArrivals;
    }
    case "close":
      for (const socket of open.splice(0)) socket.close();
      return null;
    case "cpu": {
      const { user, system } = process.cpuUsage();
      return { user, system };
    }
    case "exit":
      for (const socket of open.splice(0)) socket.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

if (process.send !== undefined) serveRunner<LoadRequest>(handle);
