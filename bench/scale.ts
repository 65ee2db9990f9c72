/**
 * The scale benchmark (run by `npm run bench` after the others, or alone: `tsx bench/scale.ts`): what
 * the work costs at 10,000 sockets on two socket.io nodes over Redis (@socket.io/redis-adapter), each
 * figure beside bare socket.io on the same two-node set-up in the same run.
 *
 * Per variant (bare, then ours: sessionAuth + redisStore + the push router), fresh processes: two nodes
 * (bench/scale-node.ts) and two load generators (bench/scale-client.ts, one per node, each holding half the
 * sockets, every socket with its own session written by connect-redis). Phases:
 *   1. connect all N sockets (200 in flight per generator); memory per socket: heapUsed and RSS of both
 *      nodes after a forced GC, minus the same before any socket, divided by N;
 *   2. one push to all N sockets from node A, then the same with an ack: until the last socket has it,
 *      and until the answer;
 *   3. reconnect storm: every socket closes, then all N reconnect at once (no limit in flight): time until
 *      all are connected, server CPU per connection (both nodes), Redis commands per connection.
 *
 * All traffic is on 127.0.0.1; every wait is bounded. The children get the hard file-descriptor limit
 * as their soft one (10,000 sockets need more than the usual 1,024).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { RedisStore } from "connect-redis";
import { sign } from "cookie-signature";
import type { SessionData } from "express-session";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { startRedisServer, type RedisServer } from "../test/support/redis-server.js";
import { integerOption } from "./args.js";
import { channel } from "./protocol.js";
import type { LoadArrivals, LoadOpened, LoadRequest } from "./scale-client.js";
import { SCALE_SECRET, type NodeMark, type NodeRequest, type PushOutcome, type ScaleVariant } from "./scale-node.js";
import { useBuiltPackage } from "./built-package.js";

interface Settings {
  sockets: number;
  rounds: number;
  quick: boolean;
}

const USAGE = `Usage: tsx bench/scale.ts [--quick] [--sockets N] [--rounds N]
  --quick      1,000 sockets and one round instead of 10,000 and two
  --sockets N  sockets in all, split over the two nodes (from 100 to 20,000)
  --rounds N   rounds of (bare, ours), the order alternating (default 2; quick 1); medians are reported`;

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { sockets: 10_000, rounds: 2, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") {
      settings.quick = true;
      settings.sockets = 1_000;
      settings.rounds = 1;
    } else if (arg === "--rounds") {
      settings.rounds = integerOption(arg, argv[++i], 1, 10, USAGE);
    } else if (arg === "--sockets") {
      settings.sockets = integerOption(arg, argv[++i], 100, 20_000, USAGE);
    } else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  return settings;
}

/** A child on the IPC channel, with the hard file-descriptor limit as its soft limit (bash's ulimit). */
function spawnChild(file: string, extra: string[] = []): ChildProcess {
  const path = fileURLToPath(new URL(file, import.meta.url));
  return spawn(
    "bash",
    ["-c", 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', process.execPath, ...process.execArgv, ...extra, path],
    {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
}

function sessionObject(user: number): SessionData {
  const maxAge = 24 * 3_600_000;
  return {
    cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), httpOnly: true, path: "/" },
    user: { id: user },
  } as unknown as SessionData;
}

/** N sessions written by connect-redis over node-redis, as the web app would; their Cookie headers. */
async function writeSessions(redisPort: number, count: number): Promise<string[]> {
  const client = createClient({ socket: { host: "127.0.0.1", port: redisPort } });
  client.on("error", () => {});
  await client.connect();
  try {
    const store = new RedisStore({ client });
    const cookies: string[] = [];
    for (let start = 0; start < count; start += 500) {
      const batch = Array.from({ length: Math.min(500, count - start) }, (_, i) => start + i);
      await Promise.all(
        batch.map(async (user) => {
          const sid = randomBytes(24).toString("base64url");
          await store.set(sid, sessionObject(user));
          cookies[user] = `connect.sid=${encodeURIComponent(`s:${sign(sid, SCALE_SECRET)}`)}`;
        }),
      );
    }
    return cookies;
  } finally {
    client.destroy();
  }
}

async function redisCalls(admin: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const [, name, count] of (await admin.info("commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (name !== "info") calls[name!] = Number(count);
  }
  return calls;
}

/** The kernel's count of connections refused by a full listen queue (Linux, machine-wide), or null elsewhere. */
function listenOverflows(): number | null {
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8")
      .split("\n")
      .filter((line) => line.startsWith("TcpExt:"));
    const names = lines[0]!.trim().split(/\s+/);
    const values = lines[1]!.trim().split(/\s+/);
    const index = names.indexOf("ListenOverflows");
    return index < 0 ? null : Number(values[index]);
  } catch {
    return null;
  }
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`scale bench: ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface Row {
  variant: ScaleVariant;
  sockets: number;
  connectMs: number;
  heapPerSocket: number;
  rssPerSocket: number;
  pushLastMs: number;
  ackLastMs: number;
  ackAnswerMs: number;
  ackAnswer: string;
  stormMs: number;
  stormCpuPerConn: number;
  stormCommands: Record<string, number>;
  /** Load generators' CPU over the storm, as a share of one core each (1.0 = one core saturated). */
  loadBusy: number;
  /** Both nodes' CPU over the storm, as a share of the storm's wall time summed over the two nodes. */
  nodesBusy: number;
  /** Connections the kernel refused during the storm for a full listen queue (machine-wide), or null. */
  listenOverflows: number | null;
}

async function measure(
  variant: ScaleVariant,
  settings: Settings,
  redis: RedisServer,
  admin: Redis,
  cookies: string[],
): Promise<Row> {
  const n = settings.sockets;
  const children: ChildProcess[] = [];
  try {
    const nodes = [0, 1].map(() => spawnChild("./scale-node.ts", ["--expose-gc"]));
    const loads = [0, 1].map(() => spawnChild("./scale-client.ts"));
    children.push(...nodes, ...loads);
    const toNode = nodes.map((child, i) => channel<NodeRequest>(child, `scale node ${"AB"[i]}`));
    const toLoad = loads.map((child, i) => channel<LoadRequest>(child, `scale load ${i}`));
    const ports = await Promise.all(
      toNode.map((ask) => ask<{ port: number }>({ type: "setup", variant, redisPort: redis.port }, 30_000)),
    );
    const marks = (gc: boolean) => Promise.all(toNode.map((ask) => ask<NodeMark>({ type: "mark", gc }, 60_000)));
    await until(
      "both nodes' adapters counting 2 servers",
      async () => ((await marks(false)).every((m) => m.servers === 2) ? true : undefined),
      15_000,
    );
    const halves = [cookies.slice(0, n >> 1), cookies.slice(n >> 1, n)];
    const openAll = (concurrency: number) =>
      Promise.all(
        toLoad.map((ask, i) =>
          ask<LoadOpened>(
            {
              type: "open",
              url: `http://127.0.0.1:${ports[i]!.port}`,
              cookies: halves[i]!,
              concurrency,
              timeoutMs: 60_000,
            },
            180_000,
          ),
        ),
      );
    const check = (opened: LoadOpened[]) => {
      const failed = opened.reduce((sum, o) => sum + o.failed, 0);
      if (failed > 0)
        throw new Error(
          `${variant}: ${failed} of ${n} sockets did not connect (e.g. ${opened.find((o) => o.sample)?.sample})`,
        );
      return Math.max(...opened.map((o) => o.doneAt)) - Math.min(...opened.map((o) => o.startedAt));
    };

    // 1. Connect all, and memory per socket.
    process.stderr.write(`bench scale: ${variant}: connecting ${n} sockets\n`);
    const empty = await marks(true);
    const connectMs = check(await openAll(200));
    const full = await marks(true);
    const sum = (values: NodeMark[], key: "heapUsed" | "rss") => values.reduce((total, m) => total + m[key], 0);
    if (full.reduce((total, m) => total + m.sockets, 0) !== n)
      throw new Error(`${variant}: the nodes hold ${full.map((m) => m.sockets).join(" + ")} sockets, not ${n}`);

    // 2. One push to all, then one with an ack.
    process.stderr.write(`bench scale: ${variant}: fan-out\n`);
    const lastArrival = async (since: number) => {
      let received = 0;
      let last = 0;
      await until(
        `${n} sockets receiving the push`,
        async () => {
          for (const got of await Promise.all(
            toLoad.map((ask) => ask<LoadArrivals>({ type: "arrivals", since }, 10_000)),
          )) {
            received += got.received;
            if (got.last !== null) last = Math.max(last, got.last);
          }
          return received >= n ? true : undefined;
        },
        60_000,
      );
      return last - since;
    };
    const plain = await toNode[0]!<PushOutcome>({ type: "push", ack: false, timeoutMs: 30_000 }, 60_000);
    const pushLastMs = await lastArrival(plain.sentAt);
    const acked = await toNode[0]!<PushOutcome>({ type: "push", ack: true, timeoutMs: 30_000 }, 60_000);
    const ackLastMs = await lastArrival(acked.sentAt);
    const ackAnswer =
      variant === "ours"
        ? `recipients ${acked.recipients}, acked ${acked.acked}, complete ${acked.complete}`
        : `${acked.acked ?? "no"} responses${acked.complete ? "" : " (timed out)"}`;

    // 3. Reconnect storm.
    process.stderr.write(`bench scale: ${variant}: reconnect storm\n`);
    await Promise.all(toLoad.map((ask) => ask({ type: "close" }, 60_000)));
    await until(
      "the nodes to see every socket gone",
      async () => ((await marks(false)).every((m) => m.sockets === 0) ? true : undefined),
      60_000,
    );
    const before = await marks(false);
    const loadBefore = await Promise.all(
      toLoad.map((ask) => ask<{ user: number; system: number }>({ type: "cpu" }, 10_000)),
    );
    const callsBefore = await redisCalls(admin);
    const overflowsBefore = listenOverflows();
    const stormMs = check(await openAll(n));
    const overflowsAfter = listenOverflows();
    const callsAfter = await redisCalls(admin);
    const after = await marks(false);
    const loadAfter = await Promise.all(
      toLoad.map((ask) => ask<{ user: number; system: number }>({ type: "cpu" }, 10_000)),
    );
    const cpu = (m: NodeMark | { user: number; system: number }) => m.user + m.system;
    const nodesCpu = after.reduce((total, m, i) => total + cpu(m) - cpu(before[i]!), 0);
    const loadCpu = loadAfter.reduce((total, m, i) => total + cpu(m) - cpu(loadBefore[i]!), 0);
    const stormCommands: Record<string, number> = {};
    for (const [name, calls] of Object.entries(callsAfter)) {
      const delta = calls - (callsBefore[name] ?? 0);
      if (delta > 0) stormCommands[name] = delta / n;
    }

    await Promise.all([...toLoad, ...toNode].map((ask) => ask({ type: "exit" }, 30_000).catch(() => {})));
    return {
      variant,
      sockets: n,
      connectMs,
      heapPerSocket: (sum(full, "heapUsed") - sum(empty, "heapUsed")) / n,
      rssPerSocket: (sum(full, "rss") - sum(empty, "rss")) / n,
      pushLastMs,
      ackLastMs,
      ackAnswerMs: acked.answeredAt - acked.sentAt,
      ackAnswer,
      stormMs,
      stormCpuPerConn: nodesCpu / n,
      stormCommands,
      loadBusy: loadCpu / 1000 / stormMs / 2,
      nodesBusy: nodesCpu / 1000 / stormMs / 2,
      listenOverflows: overflowsBefore === null || overflowsAfter === null ? null : overflowsAfter - overflowsBefore,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One row per variant: the median of each figure over the rounds (texts and commands: the last round's). */
function combine(rows: Row[], variant: ScaleVariant): Row {
  const mine = rows.filter((r) => r.variant === variant);
  const last = mine.at(-1)!;
  const of = (key: keyof Row) => median(mine.map((r) => r[key] as number));
  const overflows = mine.map((r) => r.listenOverflows);
  return {
    ...last,
    connectMs: of("connectMs"),
    heapPerSocket: of("heapPerSocket"),
    rssPerSocket: of("rssPerSocket"),
    pushLastMs: of("pushLastMs"),
    ackLastMs: of("ackLastMs"),
    ackAnswerMs: of("ackAnswerMs"),
    stormMs: of("stormMs"),
    stormCpuPerConn: of("stormCpuPerConn"),
    loadBusy: of("loadBusy"),
    nodesBusy: of("nodesBusy"),
    listenOverflows: overflows.includes(null) ? null : Math.max(...(overflows as number[])),
  };
}

function render(settings: Settings, rows: Row[], startedAt: number, redisVersion: string): string {
  const cpus = os.cpus();
  const bare = combine(rows, "bare");
  const ours = combine(rows, "ours");
  const rounds = rows.length / 2;
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const ms = (value: number) => `${Math.round(value)} ms`;
  const times = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const commands = (c: Record<string, number>) =>
    Object.keys(c).length === 0
      ? "none"
      : Object.entries(c)
          .map(([name, perConn]) => `${name.toUpperCase()} ${perConn.toFixed(2)}`)
          .join(", ");
  const lines = [
    `## Scale: ${settings.sockets.toLocaleString("en")} sockets on two nodes over Redis`,
    "",
    `- Command: \`tsx bench/scale.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}\` (also the last part of \`npm run bench\`), ${new Date(startedAt).toISOString()}, ${((Date.now() - startedAt) / 60_000).toFixed(1)} min`,
    `- Machine: ${cpus[0]?.model.trim() ?? "?"}, ${cpus.length} logical CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; Node ${process.version}, redis-server ${redisVersion}; load average after ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")}`,
    "- Set-up: two socket.io nodes on @socket.io/redis-adapter, one redis-server (sessions and adapter); two load-generator processes (socket.io-client, websocket), one per node; everything on 127.0.0.1, all on the same machine; listen backlog 4096 on each node",
    `- ${rounds} round${rounds === 1 ? "" : "s"} of (bare, ours), the order alternating, fresh processes for each; figures are medians over the rounds`,
    "",
    "| figure | bare socket.io | sessionAuth + redisStore + push router | ours ÷ bare |",
    "|---|---:|---:|---:|",
    `| connect all (200 in flight per generator) | ${ms(bare.connectMs)} | ${ms(ours.connectMs)} | ${times(ours.connectMs, bare.connectMs)} |`,
    `| memory per connected socket, JS heap (both nodes, after GC) | ${kib(bare.heapPerSocket)} | ${kib(ours.heapPerSocket)} | +${kib(ours.heapPerSocket - bare.heapPerSocket)} |`,
    `| memory per connected socket, RSS | ${kib(bare.rssPerSocket)} | ${kib(ours.rssPerSocket)} | +${kib(ours.rssPerSocket - bare.rssPerSocket)} |`,
    `| one push to all: until the last socket has it | ${ms(bare.pushLastMs)} | ${ms(ours.pushLastMs)} | ${times(ours.pushLastMs, bare.pushLastMs)} |`,
    `| one push with ack: until the last socket has it | ${ms(bare.ackLastMs)} | ${ms(ours.ackLastMs)} | ${times(ours.ackLastMs, bare.ackLastMs)} |`,
    `| one push with ack: until the answer | ${ms(bare.ackAnswerMs)} (${bare.ackAnswer}) | ${ms(ours.ackAnswerMs)} (${ours.ackAnswer}) | ${times(ours.ackAnswerMs, bare.ackAnswerMs)} |`,
    `| reconnect storm (all at once): until all are connected | ${ms(bare.stormMs)} | ${ms(ours.stormMs)} | ${times(ours.stormMs, bare.stormMs)} |`,
    `| reconnect storm: server CPU per connection (both nodes) | ${bare.stormCpuPerConn.toFixed(0)} µs | ${ours.stormCpuPerConn.toFixed(0)} µs | ${times(ours.stormCpuPerConn, bare.stormCpuPerConn)} |`,
    `| reconnect storm: Redis commands per connection | ${commands(bare.stormCommands)} | ${commands(ours.stormCommands)} | |`,
    `| reconnect storm: load generators busy (1.00 = each saturates a core) | ${bare.loadBusy.toFixed(2)} | ${ours.loadBusy.toFixed(2)} | |`,
    `| reconnect storm: nodes busy (1.00 = each saturates a core) | ${bare.nodesBusy.toFixed(2)} | ${ours.nodesBusy.toFixed(2)} | |`,
    `| reconnect storm: connections the kernel dropped for a full listen queue (machine-wide, worst round) | ${bare.listenOverflows ?? "n/a"} | ${ours.listenOverflows ?? "n/a"} | |`,
    "",
  ];
  // A command sent a handful of times in the whole storm is not per connection: each node samples how many
  // nodes there are (PUBSUB NUMSUB, every 5 s, for endSession's acknowledgement count) whatever the traffic.
  const background = Object.entries(ours.stormCommands).filter(([name, perConn]) => name !== "get" && perConn < 0.01);
  const perConnection = Object.fromEntries(
    Object.entries(ours.stormCommands).filter(([name]) => !background.some(([other]) => other === name)),
  );
  const exact = Math.abs((perConnection.get ?? 0) - 1) < 1e-9 && Object.keys(perConnection).length === 1;
  const besides =
    background.length === 0
      ? ""
      : `; besides, not per connection: ${background.map(([name, perConn]) => `${name.toUpperCase()} ×${Math.round(perConn * ours.sockets)}`).join(", ")} in the whole storm (each node's node-count sample)`;
  lines.push(
    `- Redis during the storm, ours: ${exact ? "exactly one GET per connection and nothing else per connection" : `NOT exactly one GET per connection (${commands(ours.stormCommands)})`}${besides}.`,
  );
  const load = os.loadavg()[0]!;
  if (Math.max(bare.nodesBusy, ours.nodesBusy, bare.loadBusy, ours.loadBusy) < 0.5) {
    lines.push(
      `- Neither the nodes nor the load generators were saturated during the storm (load average ${load.toFixed(1)} on ${cpus.length} CPUs when it ended): ` +
        "its wall time is mostly waiting (for a CPU on a shared machine, for TCP retransmits after listen-queue drops), not work. The CPU per connection is the figure to compare.",
    );
  }
  if (cpus.length < 4 || Math.max(bare.loadBusy, ours.loadBusy) > 0.8) {
    lines.push(
      `- The load generators share this machine's ${cpus.length} CPUs with the nodes and Redis${Math.max(bare.loadBusy, ours.loadBusy) > 0.8 ? ", and were busy most of the storm" : ""}: ` +
        "the wall times (connect, storm, fan-out arrival) are bounded by the load generator as much as by the servers. Compare CPU per connection and memory, which the load does not distort, and read the times as ratios.",
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  useBuiltPackage();
  const settings = parseArgs(process.argv.slice(2));
  const startedAt = Date.now();
  let redis: RedisServer | undefined;
  let admin: Redis | undefined;
  try {
    redis = await startRedisServer();
    admin = new Redis(redis.port, "127.0.0.1");
    admin.on("error", () => {});
    process.stderr.write(`bench scale: writing ${settings.sockets} sessions with connect-redis\n`);
    const cookies = await writeSessions(redis.port, settings.sockets);
    const rows: Row[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      const order: ScaleVariant[] = round % 2 === 0 ? ["bare", "ours"] : ["ours", "bare"];
      for (const variant of order) rows.push(await measure(variant, settings, redis, admin, cookies));
    }
    const version = /^redis_version:(\S+)/m.exec(await admin.info("server"))?.[1] ?? "?";
    console.log(render(settings, rows, startedAt, version));
  } finally {
    admin?.disconnect();
    await redis?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`bench scale failed: ${(error as Error)?.stack ?? String(error)}`);
  process.exitCode = 1;
});
