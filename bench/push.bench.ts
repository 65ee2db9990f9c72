/**
 * Push router benchmark: `npx tsx bench/push.bench.ts [--quick]` prints a Markdown table.
 *
 * 1. Requests/s through the router (`POST /push` to an offline user: the router's own cost) against a bare
 *    node:http endpoint that reads and parses the same JSON body, in the same run, rounds alternated; the
 *    load comes from a child process (keep-alive, 32 in flight). Goal: router ≥ 0.7× bare.
 * 2. Time for one push to reach every one of 1,000 and 5,000 connected sockets (socket.io-clients in a
 *    child process, which reports when the last one got it), and the round trip of the same push with `ack`.
 *
 * Everything runs on 127.0.0.1. The machine is shared, so figures are noisy: compare the ratio, not the
 * absolute numbers, and re-run on a quiet machine before quoting them.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Agent, createServer, request, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { Server } from "socket.io";
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client";
import { createPushRouter } from "socket.io-session-auth/push";

const TOKEN = "bench-token-0123456789abcdef";
const IN_FLIGHT = 32;
const BODY = JSON.stringify({
  to: { user: "offline-user" },
  event: "order:shipped",
  data: { orderId: 12345, items: ["a", "b", "c"], total: 42.5 },
});

type Role = "load" | "clients";
const role = process.argv.find((arg) => arg.startsWith("--role="))?.slice("--role=".length) as Role | undefined;

interface LoadRequest {
  url: string;
  durationMs: number;
  body: string;
  headers: Record<string, string>;
}
interface LoadResult {
  /** CPU time the serving (parent) process spent per request, in µs: steadier than req/s on a shared machine. */
  cpuPerRequest?: number;
  requests: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
}

if (role === "load") void loadWorker();
else if (role === "clients") void clientsWorker();
else void main();

// ---------------------------------------------------------------------------------------------- parent

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const rounds = quick ? 3 : 5;
  const durationMs = quick ? 1000 : 2000;
  const fanouts = quick ? [1000] : [1000, 5000];
  const repeats = quick ? 3 : 5;

  const bareHttp = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { to?: unknown };
      const text = JSON.stringify({ ok: parsed.to !== undefined, id: "bare" });
      res.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  const bare = await listen(bareHttp);
  const routerHttp = createServer();
  const io = new Server(routerHttp, { transports: ["websocket"] });
  const push = createPushRouter(io, { tokens: TOKEN });
  push.attach(routerHttp);
  const router = await listen(routerHttp);

  const load = spawn("load");
  const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
  const bareRuns: LoadResult[] = [];
  const routerRuns: LoadResult[] = [];
  // Warm-up (JIT, keep-alive sockets), then alternate so drifting background load hits both alike.
  const warmUp = quick ? 500 : 1000;
  await ask<LoadResult>(load, { url: `${bare}/`, durationMs: warmUp, body: BODY, headers });
  await ask<LoadResult>(load, { url: `${router}/push`, durationMs: warmUp, body: BODY, headers });
  const measured = async (url: string): Promise<LoadResult> => {
    const before = process.cpuUsage();
    const result = await ask<LoadResult>(load, { url, durationMs, body: BODY, headers });
    const spent = process.cpuUsage(before);
    return { ...result, cpuPerRequest: (spent.user + spent.system) / Math.max(1, result.requests) };
  };
  for (let round = 0; round < rounds; round++) {
    bareRuns.push(await measured(`${bare}/`));
    routerRuns.push(await measured(`${router}/push`));
  }
  load.kill();
  const rate = (run: LoadResult) => run.requests / run.seconds;
  const bareRate = median(bareRuns.map(rate));
  const routerRate = median(routerRuns.map(rate));
  // Each router round is compared with the bare round just before it: background load drifts less
  // within a pair than across the run.
  const rateRatio = median(routerRuns.map((run, i) => rate(run) / rate(bareRuns[i]!)));
  const cpuRatio = median(routerRuns.map((run, i) => bareRuns[i]!.cpuPerRequest! / run.cpuPerRequest!));
  const errors = [...bareRuns, ...routerRuns].reduce((sum, run) => sum + run.errors, 0);

  const cpu = (runs: LoadResult[]) => median(runs.map((r) => r.cpuPerRequest!));
  const latency = (runs: LoadResult[]) =>
    `p50 ${median(runs.map((r) => r.p50)).toFixed(2)} ms, p99 ${median(runs.map((r) => r.p99)).toFixed(2)} ms; server CPU ${cpu(runs).toFixed(0)} µs/request`;
  const rows: string[][] = [
    ["bare node:http JSON endpoint", `${fmt(bareRate)} req/s`, latency(bareRuns)],
    ["push router, `POST /push` (offline user)", `${fmt(routerRate)} req/s`, latency(routerRuns)],
    [
      "ratio router / bare",
      `${rateRatio.toFixed(2)}×`,
      `goal ≥ 0.70× ${rateRatio >= 0.7 ? "(met)" : "(NOT met)"}; by server CPU per request ${cpuRatio.toFixed(2)}×; median of ${rounds} paired rounds of ${durationMs} ms, ${IN_FLIGHT} in flight; ${errors} errors`,
    ],
  ];

  for (const sockets of fanouts) {
    const clients = spawn("clients");
    await ask<{ ready: number }>(clients, { url: router, count: sockets });
    const reach: number[] = [];
    const acked: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const arrived = next<{ last: number; count: number }>(clients);
      const sent = performance.timeOrigin + performance.now();
      await push.send({ to: { all: true }, event: "fanout", data: { i } });
      const { last, count } = await arrived;
      if (count !== sockets) throw new Error(`only ${count} of ${sockets} sockets got the push`);
      reach.push(last - sent);
      const started = performance.now();
      const answer = await push.send({ to: { all: true }, event: "fanout-ack", data: { i }, ack: { timeout: 30_000 } });
      acked.push(performance.now() - started);
      if (answer.acked !== sockets || !answer.complete)
        throw new Error(`ack round: ${answer.acked}/${answer.recipients}, complete ${answer.complete}`);
    }
    clients.kill();
    await until(() => io.of("/").sockets.size === 0);
    rows.push([
      `one push reaches all of ${fmt(sockets)} sockets`,
      `${median(reach).toFixed(1)} ms`,
      `median of ${repeats} (min ${Math.min(...reach).toFixed(1)} ms); clients in a child process`,
    ]);
    rows.push([
      `same push with \`ack\`, until all ${fmt(sockets)} acked`,
      `${median(acked).toFixed(1)} ms`,
      `median of ${repeats} (min ${Math.min(...acked).toFixed(1)} ms)`,
    ]);
  }

  await push.close();
  await io.close();
  bareHttp.close();

  const [one, five, fifteen] = loadavg();
  console.log(`### Push router${quick ? " (quick)" : ""}\n`);
  console.log(
    `Node ${process.version}, ${cpus().length} cores, load average ${one!.toFixed(2)} / ${five!.toFixed(2)} / ${fifteen!.toFixed(2)} (shared machine: figures are noisy).\n`,
  );
  console.log("| measure | result | notes |");
  console.log("|---|---|---|");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  process.exit(0);
}

function spawn(which: Role): ChildProcess {
  // fork() reuses this process's execArgv, so the child runs under tsx like the parent.
  const child = fork(fileURLToPath(import.meta.url), [`--role=${which}`], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  child.on("exit", (code, signal) => {
    if (code !== 0 && code !== null && signal === null) {
      console.error(`bench ${which} worker exited with ${code}`);
      process.exit(1);
    }
  });
  return child;
}

function next<T>(child: ChildProcess): Promise<T> {
  return once(child, "message").then(([message]) => message as T);
}

function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  const answer = next<T>(child);
  child.send(message as object);
  return answer;
}

async function listen(server: HttpServer): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function until(condition: () => boolean, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

// ---------------------------------------------------------------------------------------------- workers

async function loadWorker(): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  process.on("message", (job: LoadRequest) => {
    void run(job).then((result) => process.send!(result));
  });

  async function run(job: LoadRequest): Promise<LoadResult> {
    const url = new URL(job.url);
    const latencies: number[] = [];
    let requests = 0;
    let errors = 0;
    const started = performance.now();
    const deadline = started + job.durationMs;
    const one = () =>
      new Promise<void>((resolve) => {
        const t0 = performance.now();
        const req = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: "POST",
            headers: { ...job.headers, "content-length": Buffer.byteLength(job.body) },
          },
          (res) => {
            res.resume();
            res.on("end", () => {
              if (res.statusCode !== 202) errors++;
              requests++;
              latencies.push(performance.now() - t0);
              resolve();
            });
          },
        );
        req.on("error", () => {
          errors++;
          resolve();
        });
        req.end(job.body);
      });
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < deadline) await one();
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      requests,
      errors,
      seconds,
      p50: latencies[latencies.length >> 1] ?? 0,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    };
  }
}

async function clientsWorker(): Promise<void> {
  const [{ url, count }] = (await once(process, "message")) as [{ url: string; count: number }];
  const sockets: ClientSocket[] = [];
  let got = 0;
  let last = 0;
  const onFanout = () => {
    got++;
    if (got % count === 0) {
      last = performance.timeOrigin + performance.now();
      process.send!({ last, count });
      got = 0;
    }
  };
  for (let i = 0; i < count; i += 250) {
    const batch = Array.from({ length: Math.min(250, count - i) }, () => {
      const socket = ioClient(url, { transports: ["websocket"], forceNew: true, reconnection: false });
      socket.on("fanout", onFanout);
      socket.on("fanout-ack", (_data: unknown, ack: () => void) => ack());
      sockets.push(socket);
      return new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("connect_error", reject);
      });
    });
    await Promise.all(batch);
  }
  process.send!({ ready: sockets.length });
  process.on("SIGTERM", () => {
    for (const socket of sockets) socket.close();
    process.exit(0);
  });
}
