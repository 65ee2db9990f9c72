/**
 * `npm run bench:instructions`: what a handshake costs the server in **instructions**, counted by
 * valgrind's callgrind once V8 has compiled the handshake path. CPU time on a shared 2-core machine swings
 * by ±0.3 per round (bench/run.ts); an instruction count does not depend on what else the machine does,
 * so it can tell a difference of a few percent that a CPU-time median cannot.
 *
 * How: for each variant, bench/server.ts serves that variant alone (an app has one store; a process
 * serving several would share the library's code, and its type feedback, between them) under callgrind
 * with counting off; bench/client.ts opens the connections. After `--warmup` connections, counting is
 * switched on (`callgrind_control -i on`) for one batch and dumped, `--rounds` times, so each count holds
 * that batch's work and nothing else. A count is split three ways (see `countOf`): V8's optimizing
 * compiler, which comes in bursts while a process warms up; the garbage collector, also in bursts; and the
 * rest, the handshake's own work (JavaScript, V8's builtins and runtime, Node, libuv, OpenSSL's HMAC and
 * SHA-256, libc), which is what repeats from run to run. Not the kernel's. Each variant is shown against
 * its floor (bench/server.ts: the same work, written by hand). Processes running the same code count
 * about 1% apart (how V8 settled in each): `--processes N` takes the median of N.
 * `sessionAuth`'s store timeout is 60 s in these servers, not the default 2 s: under valgrind a pause of
 * 40 ms (a garbage collection, a compile) takes 2 s, and a Redis lookup refused for it stopped the run.
 *
 * Needs valgrind (Debian: apt-get install -y valgrind) and redis-server. About 15 minutes with
 * `--transport both` on a 2-core machine (valgrind runs the server some 50 times slower), about a minute
 * and a half per server process: `--processes N` multiplies it.
 */
import { execFileSync, fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRedisServer } from "../test/support/redis-server.js";
import { integerOption } from "./args.js";
import { useBuiltPackage } from "./built-package.js";
import {
  channel,
  type ClientRequest,
  type OpenResult,
  type ServerRequest,
  type Transport,
  type VariantInfo,
} from "./protocol.js";

interface Settings {
  only: string[];
  transports: Transport[];
  warmup: number;
  batch: number;
  rounds: number;
  processes: number;
}

const PAIRS: Record<string, string> = { memory: "floor-memory", redis: "floor-redis", "check-memory": "floor-memory" };

const USAGE = `Usage: npm run bench:instructions [-- options]
  --only a,b      variants (default memory,floor-memory,redis,floor-redis; bare is always counted)
  --transport t   websocket or polling (default websocket; both: --transport both)
  --warmup N      connections per variant before counting (default 3000)
  --batch N       connections per counted batch (default 300)
  --rounds N      counted batches per process (default 2)
  --processes N   server processes per variant, in turn; each figure is the median over them (default 1;
                  bare is counted in one)
  --quick         a check that it works: 100 warm-up, 1 round of 50`;

function parseArgs(argv: string[]): Settings {
  const quick = argv.includes("--quick");
  const settings: Settings = {
    only: ["memory", "floor-memory", "redis", "floor-redis"],
    transports: ["websocket"],
    warmup: quick ? 100 : 3000,
    batch: quick ? 50 : 300,
    rounds: quick ? 1 : 2,
    processes: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string | undefined => argv[++i];
    switch (arg) {
      case "--quick":
        break;
      case "--only":
        settings.only = (value() ?? "").split(",").filter(Boolean);
        break;
      case "--transport": {
        const t = value();
        if (t === "both") settings.transports = ["websocket", "polling"];
        else if (t === "websocket" || t === "polling") settings.transports = [t];
        else throw new Error("--transport must be websocket, polling or both");
        break;
      }
      case "--warmup":
        settings.warmup = integerOption(arg, value(), 0, 50_000);
        break;
      case "--batch":
        settings.batch = integerOption(arg, value(), 10, 5000);
        break;
      case "--rounds":
        settings.rounds = integerOption(arg, value(), 1, 20);
        break;
      case "--processes":
        settings.processes = integerOption(arg, value(), 1, 9);
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

function hasValgrind(): boolean {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
    execFileSync("callgrind_control", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The `totals:` line of a callgrind dump: instructions executed while counting was on. */
function totalOf(file: string): number {
  const match = /^totals: (\d+)/m.exec(readFileSync(file, "utf8"));
  if (match === null) throw new Error(`no totals in ${file}`);
  return Number(match[1]);
}

/**
 * A callgrind dump's instructions, split by where they ran (callgrind_annotate's list of functions): V8's
 * optimizing compiler (TurboFan, on its own threads, in bursts while the process warms up), the garbage
 * collector (in proportion to what is allocated, in bursts), and the rest: the handshake's own work
 * (JavaScript, V8's builtins and runtime, Node, libuv, OpenSSL, libc).
 */
interface Count {
  total: number;
  compiler: number;
  gc: number;
  /**
   * V8's runtime call for a computed key in an object literal (`Runtime_DefineKeyedOwnPropertyInLiteral`,
   * with what it calls). Node's `process.nextTick` makes each tick object with two (`[async_id_symbol]`);
   * in some processes V8 keeps the optimized code's fast store for them, in others it calls the runtime
   * for each, about 2,500 instructions a tick, some 70,000 a handshake. Which one a process gets does not
   * depend on the handshake's code: bare socket.io's processes show it too. Shown apart so that it is
   * not read as the middleware's cost.
   */
  literalSlowPath: number;
}

function countOf(file: string): Count {
  const total = totalOf(file);
  const listing = execFileSync("callgrind_annotate", ["--inclusive=no", "--auto=no", "--threshold=100", file], {
    encoding: "utf8",
    maxBuffer: 256 * 2 ** 20,
  });
  let compiler = 0;
  let gc = 0;
  for (const line of listing.split("\n")) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (match === null || match[2]!.includes("PROGRAM TOTALS")) continue;
    const n = Number(match[1]!.replaceAll(",", ""));
    const where = match[2]!;
    if (/compiler::|turboshaft|maglev|Zone::|RegisterAllocat/i.test(where)) compiler += n;
    else if (
      /Scaveng|Heap::|MarkCompact|Marking|Sweep|heap::base|Evacuat|MemoryChunk|PagedSpace|RememberedSet|SlotSet|GC/.test(
        where,
      )
    )
      gc += n;
  }
  const inclusive = execFileSync("callgrind_annotate", ["--inclusive=yes", "--auto=no", "--threshold=100", file], {
    encoding: "utf8",
    maxBuffer: 256 * 2 ** 20,
  });
  const slow = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*Runtime_DefineKeyedOwnPropertyInLiteral/m.exec(inclusive);
  return { total, compiler, gc, literalSlowPath: slow === null ? 0 : Number(slow[1]!.replaceAll(",", "")) };
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  if (!hasValgrind()) {
    console.log("bench:instructions needs valgrind (Debian: apt-get install -y valgrind); nothing counted.");
    return;
  }
  useBuiltPackage();
  const here = fileURLToPath(new URL(".", import.meta.url));
  const startedAt = new Date();
  const redis = await startRedisServer();
  // Per variant and transport, one list of counts (one per counted batch) per server process.
  const counts = new Map<string, Count[][]>();
  const wanted = ["bare", ...settings.only.filter((id) => id !== "bare")];
  try {
    // Process by process in turn (memory, its floor, ..., then again), so that a slow drift of the machine
    // or of Redis does not fall on one variant.
    for (let run = 1; run <= settings.processes; run++)
      for (const transport of settings.transports)
        for (const id of wanted) {
          if (id === "bare" && run > 1) continue;
          const key = `${id}\t${transport}`;
          counts.set(key, [...(counts.get(key) ?? []), await countVariant(here, redis.port, id, transport, settings)]);
        }
  } finally {
    await redis.stop();
  }

  // A figure per connection: each process's mean over its batches, then the median over the processes
  // (the same number a single process gives). Processes differ by about ±1% in what the same handshake
  // costs (where V8 lays out code and maps, which slow paths it takes), more than a change of a few
  // thousand instructions: the median over several is what to compare.
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const perProcess = (list: Count[], pick: (c: Count) => number): number =>
    list.reduce((sum, c) => sum + pick(c), 0) / (list.length * settings.batch);
  const perConnection = (processes: Count[][], pick: (c: Count) => number): number =>
    median(processes.map((list) => perProcess(list, pick)));
  const own = (c: Count): number => c.total - c.compiler - c.gc;
  const ownWithout = (c: Count): number => own(c) - c.literalSlowPath;
  const k = (n: number): string => `${(n / 1000).toFixed(0)} k`;
  const lines: string[] = [];
  lines.push("## Instructions per connection (callgrind)", "");
  lines.push(
    `- Command: \`${process.env.npm_lifecycle_event === "bench:instructions" ? "npm run bench:instructions" : "tsx bench/instructions.ts"}${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}\`` +
      ` (${startedAt.toISOString()}); Node ${process.version}; valgrind ${execFileSync("valgrind", ["--version"], { encoding: "utf8" }).trim()}`,
    `- Each variant in a server process of its own (an app has one store), ${settings.processes} process(es) per variant ` +
      `(bare: 1), each figure the median over them; ${settings.warmup} warm-up connections, then ${settings.rounds} counted batch(es) of ${settings.batch}, 16 in flight. ` +
      "**Handshake**: the instructions of " +
      "JavaScript, V8's builtins and runtime, Node, libuv, OpenSSL and libc; **GC**: the garbage collector's; " +
      "**compiler**: V8's optimizing compiler's, which comes in bursts while a process warms up; **nextTick's slow path**: " +
      "V8's runtime call for the computed keys of Node's tick objects, taken by some processes and not others (see `Count`).",
    "",
    "| variant | transport | handshake | × floor | of which nextTick's slow path | handshake without it | × floor | each process, without it | GC | compiler | total (per batch) | total × floor |",
    "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|",
  );
  for (const transport of settings.transports) {
    for (const id of wanted) {
      const list = counts.get(`${id}\t${transport}`)!;
      const floorList = PAIRS[id] === undefined ? undefined : counts.get(`${PAIRS[id]}\t${transport}`);
      const ratio = (pick: (c: Count) => number): string =>
        floorList === undefined ? "" : `${(perConnection(list, pick) / perConnection(floorList, pick)).toFixed(3)}×`;
      const each = list.map((batches) => k(perProcess(batches, ownWithout))).join(", ");
      const batches = list.flat().map((c) => k(c.total / settings.batch));
      lines.push(
        `| ${id} | ${transport} | ${k(perConnection(list, own))} | ${ratio(own)} | ${k(perConnection(list, (c) => c.literalSlowPath))} | ` +
          `${k(perConnection(list, ownWithout))} | ${ratio(ownWithout)} | ${each} | ${k(perConnection(list, (c) => c.gc))} | ` +
          `${k(perConnection(list, (c) => c.compiler))} | ${k(perConnection(list, (c) => c.total))} (${batches.join(", ")}) | ${ratio((c) => c.total)} |`,
      );
    }
  }
  console.log(lines.join("\n"));
}

/** One variant in a server of its own under callgrind: warmed up, then counted batch by batch. */
async function countVariant(
  here: string,
  redisPort: number,
  id: string,
  transport: Transport,
  settings: Settings,
): Promise<Count[]> {
  const dir = mkdtempSync(join(os.tmpdir(), "bench-instructions-"));
  // The server under callgrind, counting off until asked: node is valgrind's program, with tsx's loader
  // (this process's execArgv) and Node's IPC channel inherited through it.
  const server = fork(join(here, "server.ts"), [], {
    execPath: "valgrind",
    execArgv: [
      "--tool=callgrind",
      "--instr-atstart=no",
      // V8 writes code at run time: valgrind must notice code written anywhere but files.
      "--smc-check=all-non-file",
      `--callgrind-out-file=${join(dir, "count")}`,
      "--quiet",
      process.execPath,
      "--expose-gc",
      ...(process.env.BENCH_SERVER_FLAGS?.split(" ").filter(Boolean) ?? []),
      ...process.execArgv,
    ],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const client = fork(join(here, "client.ts"), [], {
    execArgv: process.execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const toServer = channel<ServerRequest>(server, "bench server (under callgrind)");
  const toClient = channel<ClientRequest>(client, "bench client");
  try {
    const [variant] = await toServer<VariantInfo[]>(
      { type: "setup", redisPort, sessions: settings.batch, only: [id], storeTimeout: 60_000 },
      600_000,
    );
    if (variant === undefined || variant.id !== id) throw new Error(`unknown variant ${id}`);
    const batch = async (count: number): Promise<void> => {
      const result = await toClient<OpenResult>(
        {
          type: "open",
          url: `http://127.0.0.1:${variant.port}`,
          cookie: variant.cookie,
          transport,
          outcome: variant.outcome,
          count,
          concurrency: 16,
          timeoutMs: 60_000,
        },
        60_000 + count * 2_000,
      );
      await toClient({ type: "close" }, 60_000);
      await toServer({ type: "drain", variant: variant.id, timeoutMs: 120_000 }, 125_000);
      if (result.wrong > 0)
        throw new Error(
          `${id} over ${transport}: ${result.wrong} of ${count} did not ${variant.outcome} (${result.sample})`,
        );
    };
    process.stderr.write(`bench:instructions: ${id} over ${transport}: warm-up (${settings.warmup})\n`);
    for (let left = settings.warmup; left > 0; left -= settings.batch) {
      await toServer({ type: "mark", collect: true }, 120_000);
      await batch(Math.min(left, settings.batch));
    }
    const pid = String(server.pid);
    const counts: Count[] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      // The young-generation collection before a batch runs before counting starts.
      await toServer({ type: "mark", collect: true }, 120_000);
      execFileSync("callgrind_control", ["--instr=on", pid], { stdio: "ignore" });
      await batch(settings.batch);
      execFileSync("callgrind_control", ["--instr=off", pid], { stdio: "ignore" });
      execFileSync("callgrind_control", ["--dump", pid], { stdio: "ignore" });
      // callgrind numbers its dumps from 1: count.1, count.2...
      const name = `count.${round}`;
      for (let i = 0; i < 200 && !readdirSync(dir).includes(name); i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      counts.push(countOf(join(dir, name)));
    }
    await toServer({ type: "exit" }, 120_000).catch(() => {});
    await toClient({ type: "exit" }, 10_000).catch(() => {});
    return counts;
  } finally {
    client.kill();
    // valgrind writes a last dump as the server exits: let it, before the folder goes.
    if (server.exitCode === null) {
      const exited = once(server, "exit");
      server.kill();
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    }
    if (process.env.BENCH_KEEP_COUNTS === undefined) rmSync(dir, { recursive: true, force: true });
    else console.error(`callgrind dumps kept in ${dir}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
