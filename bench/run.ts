/**
 * `npm run bench` (or `npm run bench -- --quick`): server CPU per accepted connection, per variant and
 * transport, measured in one run so the ratios to bare socket.io compare like with like.
 *
 * Three processes: this runner, the measured server (bench/server.ts: every variant on its own port) and
 * the load (bench/client.ts: real socket.io-client connections). For each batch the runner takes a CPU
 * mark in the server, has the client open N connections against one variant, takes a second mark, and
 * reads Redis's INFO commandstats/cpu around it. Rounds visit every variant in a rotating, alternating
 * order; the tables give medians over rounds and the median of each round's ratio to bare.
 *
 * All traffic is on 127.0.0.1; every batch, wait and the whole run are bounded in count and time.
 */
import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { startPostgresServer, type PostgresServer } from "../test/support/postgres-server.js";
import { startRedisServer, type RedisServer } from "../test/support/redis-server.js";
import { integerOption } from "./args.js";
import {
  channel,
  type ClientRequest,
  type Mark,
  type OpenResult,
  type ServerRequest,
  type Transport,
  type VariantInfo,
} from "./protocol.js";
import { useBuiltPackage } from "./built-package.js";

interface Settings {
  rounds: number;
  batch: number;
  warmup: number;
  concurrency: number;
  maxMinutes: number;
  only: string[] | undefined;
  transports: Transport[];
  json: string | undefined;
  profile: string | undefined;
}

const USAGE = `Usage: npm run bench [-- options]
  --quick            a short run (2 rounds of 100 connections per variant and transport)
  --rounds N         rounds (default 12; quick 2)
  --batch N          connections per variant per round (default 300; quick 100)
  --concurrency N    connections in flight at once (default 16)
  --warmup N         warm-up connections per variant and transport before the rounds, in batches
                     (default 1200; quick 40): V8 is still compiling the handshake path for the
                     first few thousand connections, which is not what a handshake costs
  --only a,b         only these variants (bare is always measured): bare memory memory-observed redis
                     redis-engine badsig badsig-engine refuse-plain recipe handwritten better-auth
                     authjs (Auth.js v5 JWT, decrypted per handshake) iron-session (a seal, unsealed)
                     postgres handwritten-pg (when PostgreSQL's initdb/postgres are installed)
                     floor-memory floor-redis check-memory
  --transport t      websocket or polling (default both)
  --max-minutes M    stop starting new rounds M minutes after the warm-up (default 12; quick 4)
  --json FILE        also write every batch's raw figures to FILE
  --profile DIR      write a V8 CPU profile of the server process to DIR (slows it: not for figures)
Then bench/push.bench.ts, bench/scale.ts (10,000 sockets on two nodes; 1,000 with --quick) and
bench/lifecycle.ts (10,000 sockets over 1,000 sessions; 1,000 with --quick) run,
unless --only narrows the run. Run the scale part alone with \`npx tsx bench/scale.ts\`.
BENCH_SERVER_FLAGS="--trace-opt ..." passes V8 flags to the measured server (for experiments, not figures).
\`npm run bench:instructions\` counts instructions per handshake under valgrind (bench/instructions.ts).`;

function parseArgs(argv: string[]): Settings {
  const quick = argv.includes("--quick");
  const settings: Settings = {
    rounds: quick ? 2 : 12,
    batch: quick ? 100 : 300,
    warmup: quick ? 40 : 1200,
    concurrency: 16,
    maxMinutes: quick ? 4 : 12,
    only: undefined,
    transports: ["websocket", "polling"],
    json: undefined,
    profile: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string | undefined => argv[++i];
    switch (arg) {
      case "--quick":
        break;
      case "--rounds":
        settings.rounds = integerOption(arg, value(), 1, 50);
        break;
      case "--batch":
        settings.batch = integerOption(arg, value(), 10, 5000);
        break;
      case "--warmup":
        settings.warmup = integerOption(arg, value(), 0, 100_000);
        break;
      case "--concurrency":
        settings.concurrency = integerOption(arg, value(), 1, 128);
        break;
      case "--max-minutes":
        settings.maxMinutes = integerOption(arg, value(), 1, 60);
        break;
      case "--only":
        settings.only = (value() ?? "").split(",").filter(Boolean);
        break;
      case "--transport": {
        const t = value();
        if (t !== "websocket" && t !== "polling") throw new Error("--transport must be websocket or polling");
        settings.transports = [t];
        break;
      }
      case "--json":
        settings.json = value();
        break;
      case "--profile":
        settings.profile = value();
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  return settings;
}

function spawnChild(file: string, extra: string[] = []): ChildProcess {
  // process.execArgv carries tsx's loader, so the children run TypeScript the same way.
  return fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    execArgv: [...process.execArgv, ...extra],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

interface RedisStats {
  calls: Record<string, number>;
  cpuMicros: number;
}

async function redisStats(admin: Redis): Promise<RedisStats> {
  const text = await admin.info("everything");
  const calls: Record<string, number> = {};
  for (const [, name, count] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (name !== "info") calls[name!] = Number(count);
  }
  const seconds = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  return { calls, cpuMicros: (seconds("used_cpu_user") + seconds("used_cpu_sys")) * 1e6 };
}

interface Sample {
  variant: string;
  transport: Transport;
  round: number;
  connections: number;
  cpuMicros: number;
  wallMs: number;
  redisCpuMicros: number;
  commands: Record<string, number>;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0
    ? Number.NaN
    : sorted.length % 2 === 1
      ? sorted[mid]!
      : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function version(pkg: string): string {
  try {
    const file = new URL(`../node_modules/${pkg}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function commandLine(): string {
  const args = process.argv.slice(2).join(" ");
  if (process.env.npm_lifecycle_event === "bench") return `npm run bench${args ? ` -- ${args}` : ""}`;
  return `tsx bench/run.ts${args ? ` ${args}` : ""}`;
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  useBuiltPackage();
  const startedAt = Date.now();
  const loadBefore = os.loadavg();

  let redis: RedisServer | undefined;
  let postgres: PostgresServer | undefined;
  let server: ChildProcess | undefined;
  let client: ChildProcess | undefined;
  let admin: Redis | undefined;
  const cleanup = async () => {
    server?.kill();
    client?.kill();
    admin?.disconnect();
    await redis?.stop();
    await postgres?.destroy();
  };
  process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));

  try {
    redis = await startRedisServer().catch((error: unknown) => {
      throw new Error(
        `the benchmark needs redis-server (apt-get install -y redis-server): ${(error as Error).message}`,
      );
    });
    admin = new Redis(redis.port, "127.0.0.1");
    admin.on("error", () => {});
    // PostgreSQL rows (connect-pg-simple's table) when it is installed; without it, those variants are left out.
    postgres = await startPostgresServer().catch((error: unknown) => {
      console.warn(`(no postgres variants: ${(error as Error).message.split("\n")[0]})`);
      return undefined;
    });
    if (postgres) {
      const table = readFileSync(createRequire(import.meta.url).resolve("connect-pg-simple/table.sql"), "utf8");
      await postgres.query(table);
    }
    server = spawnChild("./server.ts", [
      "--expose-gc",
      // V8 flags for an experiment (e.g. --trace-opt), not for published figures.
      ...(process.env.BENCH_SERVER_FLAGS?.split(" ").filter(Boolean) ?? []),
      ...(settings.profile ? ["--cpu-prof", `--cpu-prof-dir=${settings.profile}`] : []),
    ]);
    client = spawnChild("./client.ts");
    const toServer = channel<ServerRequest>(server, "bench server");
    const toClient = channel<ClientRequest>(client, "bench client");

    const all = await toServer<VariantInfo[]>(
      {
        type: "setup",
        redisPort: redis.port,
        // The warm-up runs in batches too: each batch takes the cookies from the first.
        sessions: settings.batch,
        ...(postgres ? { postgres: postgres.config } : {}),
      },
      30_000,
    );
    const unknown = settings.only?.filter((id) => !all.some((v) => v.id === id)) ?? [];
    if (unknown.length > 0)
      throw new Error(`unknown variant(s) ${unknown.join(", ")}; known: ${all.map((v) => v.id).join(", ")}`);
    const variants = all.filter((v) => v.id === "bare" || settings.only === undefined || settings.only.includes(v.id));
    const cells = settings.transports.flatMap((transport) => variants.map((variant) => ({ variant, transport })));
    const batchTimeout = 10_000 + settings.batch * 200;

    const runBatch = async (
      variant: VariantInfo,
      transport: Transport,
      count: number,
    ): Promise<Omit<Sample, "round">> => {
      if (variant.observed === true) await toServer({ type: "observe", on: true }, 30_000);
      const redisBefore = await redisStats(admin!);
      const before = await toServer<Mark>({ type: "mark", collect: true }, 30_000);
      const result = await toClient<OpenResult>(
        {
          type: "open",
          url: `http://127.0.0.1:${variant.port}`,
          cookie: variant.cookie,
          transport,
          outcome: variant.outcome,
          count,
          concurrency: settings.concurrency,
          timeoutMs: 10_000,
        },
        batchTimeout,
      );
      const after = await toServer<Mark>({ type: "mark", collect: false }, 30_000);
      if (variant.observed === true) await toServer({ type: "observe", on: false }, 30_000);
      const redisAfter = await redisStats(admin!);
      await toClient({ type: "close" }, 30_000);
      await toServer({ type: "drain", variant: variant.id, timeoutMs: 30_000 }, 35_000);
      if (result.wrong > 0) {
        throw new Error(
          `${variant.id} over ${transport}: ${result.wrong} of ${count} connections did not ${variant.outcome} (e.g. ${result.sample})`,
        );
      }
      const commands: Record<string, number> = {};
      for (const [name, calls] of Object.entries(redisAfter.calls)) {
        const delta = calls - (redisBefore.calls[name] ?? 0);
        if (delta > 0) commands[name] = delta;
      }
      return {
        variant: variant.id,
        transport,
        connections: count,
        cpuMicros: after.user + after.system - (before.user + before.system),
        wallMs: result.wallMs,
        redisCpuMicros: redisAfter.cpuMicros - redisBefore.cpuMicros,
        commands,
      };
    };

    // Until V8 has compiled the handshake path (a few thousand connections: optimizing compiles of
    // socket.io's, ours and the floors' functions go on that long, and each takes CPU of the server
    // process); in batches, every cell in turn, so that no cell is warmed while another is cold.
    process.stderr.write(`bench: warm-up (${settings.warmup} connections per cell, ${cells.length} cells)\n`);
    for (let left = settings.warmup; left > 0; left -= settings.batch)
      for (const { variant, transport } of cells) await runBatch(variant, transport, Math.min(left, settings.batch));

    const deadline = Date.now() + settings.maxMinutes * 60_000;
    const samples: Sample[] = [];
    let roundsDone = 0;
    for (let round = 0; round < settings.rounds; round++) {
      if (Date.now() > deadline) break;
      // Rotate the order each round, and reverse every other one, so no variant always follows another.
      const rotated = cells.map((_, i) => cells[(i + round) % cells.length]!);
      const order = round % 2 === 1 ? rotated.reverse() : rotated;
      process.stderr.write(`bench: round ${round + 1}/${settings.rounds}\n`);
      for (const { variant, transport } of order)
        samples.push({ ...(await runBatch(variant, transport, settings.batch)), round });
      roundsDone++;
    }

    const report = render({
      settings,
      variants,
      samples,
      roundsDone,
      startedAt,
      loadBefore,
      redisVersion: await redisVersion(admin),
    });
    console.log(report);
    if (settings.json !== undefined) {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(settings.json, JSON.stringify({ settings, variants, samples }, null, 2));
    }
    // Let both children exit by themselves (the server writes its --profile then), then cleanup kills
    // whatever is still running.
    const exited = (child: ChildProcess) =>
      child.exitCode !== null
        ? Promise.resolve()
        : Promise.race([once(child, "exit"), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    await toServer({ type: "exit" }, 10_000).catch(() => {});
    await toClient({ type: "exit" }, 10_000).catch(() => {});
    await Promise.all([exited(server), exited(client)]);
  } finally {
    await cleanup();
  }
}

async function redisVersion(admin: Redis): Promise<string> {
  const text = await admin.info("server");
  return /^redis_version:(\S+)/m.exec(text)?.[1] ?? "?";
}

interface RenderInput {
  settings: Settings;
  variants: VariantInfo[];
  samples: Sample[];
  roundsDone: number;
  startedAt: number;
  loadBefore: number[];
  redisVersion: string;
}

interface Cell {
  cpu: number;
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  commands: Record<string, number>;
  redisCpu: number;
  connections: number;
}

function summarize(samples: Sample[], variant: string, transport: Transport): Cell | undefined {
  const mine = samples.filter((s) => s.variant === variant && s.transport === transport);
  if (mine.length === 0) return undefined;
  const bare = new Map(
    samples.filter((s) => s.variant === "bare" && s.transport === transport).map((s) => [s.round, s]),
  );
  const perConn = (s: Sample) => s.cpuMicros / s.connections;
  const ratios = mine.flatMap((s) => {
    const base = bare.get(s.round);
    return base === undefined ? [] : [perConn(s) / perConn(base)];
  });
  const connections = mine.reduce((sum, s) => sum + s.connections, 0);
  const commands: Record<string, number> = {};
  for (const s of mine)
    for (const [name, calls] of Object.entries(s.commands)) commands[name] = (commands[name] ?? 0) + calls;
  for (const name of Object.keys(commands)) commands[name]! /= connections;
  const cpu = median(mine.map(perConn));
  const bareCpu = median([...bare.values()].map(perConn));
  return {
    cpu,
    // The ratio of the medians: steadier than the median of per-round ratios, whose every value carries
    // the noise of one bare batch too; the per-round ratios give the range.
    ratio: cpu / bareCpu,
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    commands,
    redisCpu: median(mine.map((s) => s.redisCpuMicros / s.connections)),
    connections,
  };
}

/** Each round's `variant ÷ floor` (server CPU per connection, same transport), summarized. */
function pairedRatio(
  samples: Sample[],
  variant: string,
  floor: string,
  transport: Transport,
): { median: number; min: number; max: number; rounds: number } | undefined {
  const perConn = (s: Sample) => s.cpuMicros / s.connections;
  const floors = new Map(
    samples.filter((s) => s.variant === floor && s.transport === transport).map((s) => [s.round, s]),
  );
  const ratios = samples
    .filter((s) => s.variant === variant && s.transport === transport && floors.has(s.round))
    .map((s) => perConn(s) / perConn(floors.get(s.round)!));
  if (ratios.length === 0) return undefined;
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), rounds: ratios.length };
}

function formatCommands(commands: Record<string, number>): string {
  const entries = Object.entries(commands).sort(([a], [b]) =>
    a === "get" ? -1 : b === "get" ? 1 : a.localeCompare(b),
  );
  if (entries.length === 0) return "none";
  return entries.map(([name, perConn]) => `${name.toUpperCase()} ${perConn.toFixed(2)}`).join(", ");
}

function render(input: RenderInput): string {
  const { settings, variants, samples, roundsDone, startedAt, loadBefore } = input;
  const cpus = os.cpus();
  const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);
  const lines: string[] = [];
  lines.push("## Server CPU per connection", "");
  lines.push(`- Command: \`${commandLine()}\` (${new Date(startedAt).toISOString()}, ${minutes} min)`);
  lines.push(
    `- Machine: ${cpus[0]?.model.trim() ?? "?"}, ${cpus.length} logical CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; ` +
      `load average ${loadBefore.map((l) => l.toFixed(2)).join(" / ")} before, ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" / ")} after`,
  );
  lines.push(
    `- Node ${process.version}; socket.io ${version("socket.io")}, socket.io-client ${version("socket.io-client")}, redis-server ${input.redisVersion}, ` +
      `ioredis ${version("ioredis")}, node-redis ${version("redis")}, connect-redis ${version("connect-redis")}, express-session ${version("express-session")}`,
  );
  lines.push(
    `- N = ${settings.batch} connections per batch, ${roundsDone} rounds${roundsDone < settings.rounds ? ` (of ${settings.rounds}: stopped at the ${settings.maxMinutes}-minute limit)` : ""} ` +
      `in rotating, alternating order, ${settings.concurrency} in flight, ${settings.warmup} warm-up connections per cell first; ` +
      `${settings.batch * roundsDone} measured connections per variant and transport`,
  );
  lines.push(
    "- Server CPU: `process.cpuUsage()` (user + system) of the server process over a batch, per connection; the client is a separate process. " +
      "× bare: the variant's median ÷ bare's median (same transport); the range is that of the per-round ratios (variant ÷ bare of the same round). Accepted over polling-first means connected and upgraded to websocket. " +
      "Redis commands: INFO commandstats deltas over the batch, per connection; Redis CPU: INFO used_cpu_user + used_cpu_sys deltas.",
  );
  lines.push(
    "- A refusal by `io.use` comes after the engine handshake (and, over websocket, the upgrade), and socket.io-client then closes the connection " +
      "inside the batch; an accepted connection's close is not measured. The plain `io.use` refusal row is socket.io's own cost of refusing; " +
      "`allowRequest` refuses before any of it.",
  );
  lines.push("");
  const label: Record<Transport, string> = { websocket: "websocket only", polling: "polling first, then upgrade" };
  const cells = new Map<string, Cell>();
  for (const transport of settings.transports) {
    lines.push(`### ${label[transport]}`, "");
    lines.push(
      "| variant | outcome | server CPU µs/conn | × bare | × bare, range over rounds | Redis commands/conn | Redis CPU µs/conn |",
    );
    lines.push("|---|---|---:|---:|---:|---|---:|");
    for (const variant of variants) {
      const cell = summarize(samples, variant.id, transport);
      if (cell === undefined) continue;
      cells.set(`${variant.id}/${transport}`, cell);
      lines.push(
        `| ${variant.label} | ${variant.outcome === "accept" ? "accepted" : "refused"} | ${cell.cpu.toFixed(0)} | ${cell.ratio.toFixed(2)} | ` +
          `${cell.ratioMin.toFixed(2)}–${cell.ratioMax.toFixed(2)} | ${variant.redis ? formatCommands(cell.commands) : "n/a"} | ${variant.redis ? cell.redisCpu.toFixed(0) : "n/a"} |`,
      );
    }
    lines.push("");
  }

  const goals: string[] = [];
  const mark = (ok: boolean) => (ok ? "met" : "NOT met");
  for (const transport of settings.transports) {
    const get = (id: string) => cells.get(`${id}/${transport}`);
    const memory = get("memory");
    if (memory)
      goals.push(
        `| core | sessionAuth + memoryStore ≤ 1.02× bare (${transport}) | ${memory.ratio.toFixed(2)}× | ${mark(memory.ratio <= 1.02)} |`,
      );
    const plain = get("refuse-plain");
    for (const id of ["badsig", "badsig-engine"]) {
      const bad = get(id);
      const scale = bad && plain ? `; a plain io.use refusal: ${plain.ratio.toFixed(2)}×` : "";
      if (bad)
        goals.push(
          `| core | ${id === "badsig" ? "bad signature (io.use)" : "bad signature (allowRequest)"} < 1.00× an accepted bare connection (${transport}) | ${bad.ratio.toFixed(2)}×${scale} | ${mark(bad.ratio < 1)} |`,
        );
      if (bad)
        goals.push(
          `| redis | no Redis command for a bad signature: ${id} (${transport}) | ${formatCommands(bad.commands)} | ${mark(Object.keys(bad.commands).length === 0)} |`,
        );
    }
    for (const id of ["redis", "redis-engine"]) {
      const cell = get(id);
      if (!cell) continue;
      const exact = Math.abs((cell.commands.get ?? 0) - 1) < 1e-9 && Object.keys(cell.commands).length === 1;
      goals.push(
        `| redis | exactly one GET and nothing else: ${id} (${transport}) | ${formatCommands(cell.commands)} | ${mark(exact)} |`,
      );
    }
    const redisCell = get("redis");
    const hand = get("handwritten");
    if (redisCell && hand) {
      goals.push(
        `| redis | sessionAuth + redisStore no worse than hand-written (${transport}; noise about ±0.1) | ${redisCell.ratio.toFixed(2)}× vs ${hand.ratio.toFixed(2)}× | ${mark(redisCell.ratio <= hand.ratio + 0.02)} (Δ ${(redisCell.ratio - hand.ratio).toFixed(2)}) |`,
      );
    }
    const postgresCell = get("postgres");
    const handPg = get("handwritten-pg");
    if (postgresCell && handPg) {
      goals.push(
        `| postgres | sessionAuth + postgresStore no worse than hand-written (${transport}; noise about ±0.1) | ${postgresCell.ratio.toFixed(2)}× vs ${handPg.ratio.toFixed(2)}× | ${mark(postgresCell.ratio <= handPg.ratio + 0.02)} (Δ ${(postgresCell.ratio - handPg.ratio).toFixed(2)}) |`,
      );
    }
  }
  // Issue 22: the lifecycle-on handshake against a hand-written floor doing the same work, as the median
  // of each round's ratio (both measured in the same round, so a loaded machine weighs on both alike).
  for (const transport of settings.transports) {
    for (const [id, floor] of [
      ["memory", "floor-memory"],
      ["redis", "floor-redis"],
    ] as const) {
      const ratio = pairedRatio(samples, id, floor, transport);
      if (ratio === undefined) continue;
      goals.push(
        `| lifecycle | sessionAuth (${id}, lifecycle on) ≤ 1.05× ${floor} (${transport}; median of ${ratio.rounds} per-round ratios, range ${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${ratio.median.toFixed(2)}× | ${mark(ratio.median <= 1.05)} |`,
      );
    }
  }
  // The diagnostics channels with a subscriber (every channel, handlers doing nothing) against none: what
  // an APM's listening costs the handshake itself (DESIGN "Observability").
  for (const transport of settings.transports) {
    const ratio = pairedRatio(samples, "memory-observed", "memory", transport);
    if (ratio === undefined) continue;
    goals.push(
      `| diagnostics | every channel subscribed (no-op handlers) ≤ 1.05× none (memory, ${transport}; median of ${ratio.rounds} per-round ratios, range ${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${ratio.median.toFixed(2)}× | ${mark(ratio.median <= 1.05)} |`,
    );
  }
  if (goals.length > 0) {
    lines.push("### Goals", "", "| area | goal | measured | verdict |", "|---|---|---|---|", ...goals, "");
  }
  return lines.join("\n");
}

// The push router has its own benchmark (requests/s against a bare node:http endpoint, fan-out time):
// run after the connection figures, in its own processes, unless this run was narrowed with --only.
function runPushBench(): void {
  const argv = process.argv.slice(2);
  if (argv.includes("--only") || argv.includes("--help")) return;
  process.stderr.write("bench: the push router (bench/push.bench.ts)\n");
  const here = fileURLToPath(new URL(".", import.meta.url));
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", `${here}push.bench.ts`, ...(argv.includes("--quick") ? ["--quick"] : [])],
    {
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 15 * 60_000,
    },
  );
  if (result.status !== 0) throw new Error(`bench/push.bench.ts failed (${result.status ?? result.signal})`);
}

/**
 * A benchmark of its own (bench/scale.ts: 10,000 sockets on two nodes over Redis; bench/lifecycle.ts:
 * 10,000 sockets over 1,000 sessions; 1,000 with --quick), in its own processes, after the table above.
 */
function runChildBench(file: string, timeoutMs: number): void {
  const argv = process.argv.slice(2);
  if (argv.includes("--only") || argv.includes("--help")) return;
  process.stderr.write(`bench: bench/${file}\n`);
  const here = fileURLToPath(new URL(".", import.meta.url));
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", `${here}${file}`, ...(argv.includes("--quick") ? ["--quick"] : [])],
    {
      stdio: ["ignore", "inherit", "inherit"],
      timeout: timeoutMs,
    },
  );
  if (result.status !== 0) throw new Error(`bench/${file} failed (${result.status ?? result.signal})`);
}

main()
  .then(() => {
    if (process.exitCode === undefined || process.exitCode === 0) {
      runPushBench();
      runChildBench("scale.ts", 20 * 60_000);
      runChildBench("lifecycle.ts", 10 * 60_000);
    }
  })
  .catch((error: unknown) => {
    console.error(`bench failed: ${(error as Error)?.stack ?? String(error)}`);
    process.exitCode = 1;
  });
