/**
 * The load: a separate process that opens a batch of real socket.io-client connections against one
 * variant, with a bounded number in flight, and keeps them open until told to close them (so closing is
 * not part of the measured batch).
 */
import { io as ioClient, type Socket } from "socket.io-client";
import { serveRunner, type ClientRequest, type OpenResult, type Transport } from "./protocol.js";

const open: Socket[] = [];

/**
 * One connection, to the end the variant should reach. Accepted over polling-first means connected *and*
 * upgraded to websocket: the upgrade's requests are part of what a connection costs the server.
 */
function one(
  url: string,
  cookie: string,
  transport: Transport,
  timeoutMs: number,
): Promise<"accepted" | "refused" | string> {
  const socket = ioClient(url, {
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    transports: transport === "websocket" ? ["websocket"] : ["polling", "websocket"],
    extraHeaders: { cookie },
  });
  open.push(socket);
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(`timed out after ${timeoutMs} ms`), timeoutMs);
    let connected = false;
    let upgraded = transport === "websocket";
    const finish = (outcome: string) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    socket.once("connect", () => {
      connected = true;
      if (upgraded) finish("accepted");
    });
    // The manager opens its engine synchronously (autoConnect), so the upgrade cannot be missed.
    socket.io.engine.once("upgrade", () => {
      upgraded = true;
      if (connected) finish("accepted");
    });
    // A refused socket stays open (its engine connection, when the refusal came from io.use) until the
    // batch is over, like an accepted one: closing is never part of the measured batch.
    socket.once("connect_error", () => finish("refused"));
  });
}

async function openBatch(request: Extract<ClientRequest, { type: "open" }>): Promise<OpenResult> {
  const started = performance.now();
  let next = 0;
  let ok = 0;
  let wrong = 0;
  let sample: string | undefined;
  const want = request.outcome === "accept" ? "accepted" : "refused";
  // One Cookie header per line: taken in turn, so the connections in flight are of distinct sessions.
  const cookies = request.cookie.split("\n");
  const worker = async () => {
    while (next < request.count) {
      const cookie = cookies[next % cookies.length]!;
      next++;
      const outcome = await one(request.url, cookie, request.transport, request.timeoutMs);
      if (outcome === want) ok++;
      else {
        wrong++;
        sample ??= outcome;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(request.concurrency, request.count) }, worker));
  return { ok, wrong, sample, wallMs: performance.now() - started };
}

async function handle(message: ClientRequest): Promise<unknown> {
  switch (message.type) {
    case "open":
      return openBatch(message);
    case "close":
      for (const socket of open.splice(0)) socket.close();
      return null;
    case "exit":
      for (const socket of open.splice(0)) socket.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

serveRunner<ClientRequest>(handle);
