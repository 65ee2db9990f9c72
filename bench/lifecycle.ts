/**
 * `npx tsx bench/lifecycle.ts` (run by `npm run bench`): what following sessions costs once sockets are
 * connected. N sockets over N/10 sessions (10 tabs each) on one socket.io server, bare and with
 * `sessionAuth` + `memoryStore` over express-session's MemoryStore, each in fresh processes, in the same
 * run. Reported: the storm (handshake store reads per distinct session while the tabs of each session
 * connect together; the goal: ≤ 1.1, not one per tab), re-reads per session per `revalidate` interval (the
 * goal: one per session, not per socket), timers the lifecycle keeps (the goal: they grow with sessions,
 * not sockets), and heap per connected socket beside bare socket.io, at N/10 sessions and at one socket
 * per session (two more processes, with the default `revalidate`, no interval watched): right after the
 * storm, while each session's last read is kept for sharing (`sharedReadMaxAge`, 5 s), and once that
 * window has passed, which is how a socket weighs for the rest of its life.
 *
 * Three processes: this runner, the server (bench/lifecycle-node.ts) and the load (bench/scale-client.ts,
 * real socket.io-client connections over websocket). Traffic on 127.0.0.1 only; every wait is bounded.
 */
import { spawn, type ChildProcess } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { integerOption } from "./args.js";
import type { LifecycleMark, LifecycleRequest } from "./lifecycle-node.js";
import { channel } from "./protocol.js";
import type { LoadOpened, LoadRequest } from "./scale-client.js";
import { useBuiltPackage } from "./built-package.js";

const USAGE = `Usage: npx tsx bench/lifecycle.ts [--quick] [--sockets N] [--tabs N] [--interval MS]
  --quick        1,000 sockets over 100 sessions (default 10,000 over 1,000)
  --sockets N    sockets
  --tabs N       sockets per session (default 10)
  --interval MS  the revalidate interval measured (default 3000); 3 intervals are watched`;

interface Settings {
  sockets: number;
  tabs: number;
  interval: number;
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { sockets: argv.includes("--quick") ? 1_000 : 10_000, tabs: 10, interval: 3_000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const int = (min: number, max: number): number => integerOption(arg, argv[++i], min, max, USAGE);
    if (arg === "--quick") continue;
    else if (arg === "--sockets") settings.sockets = int(100, 20_000);
    else if (arg === "--interval") settings.interval = int(500, 60_000);
    else if (arg === "--tabs") settings.tabs = int(1, 100);
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return settings;
}

function spawnChild(file: string, extra: string[] = []): ChildProcess {
  const path = fileURLToPath(new URL(file, import.meta.url));
  // The hard file-descriptor limit as the soft one: 10,000 sockets need more than the usual 1,024.
  return spawn(
    "bash",
    ["-c", 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', process.execPath, ...process.execArgv, ...extra, path],
    {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
}

interface Row {
  variant: "bare" | "ours";
  connected: number;
  /** Store reads while connecting, per socket (handshakes, and any periodic re-read that fell due). */
  readsPerSocket: number;
  /** Store reads made for handshakes, per distinct session (the storm figure). */
  handshakeReadsPerSession: number;
  rereadsPerSessionPerInterval: number;
  timers: number;
  heapPerSocket: number;
  /** Heap per socket once `sharedReadMaxAge` has passed since the storm (heap-only runs; NaN otherwise). */
  heapPerSocketSettled: number;
}

// The default sharedReadMaxAge (5 s), and a second more: by then the sweep has dropped every kept read.
const SHARED_READ_WINDOW_MS = 6_000;
// The default `revalidate` (5 minutes): no periodic re-read (which keeps a read again) in the heap-only runs.
const DEFAULT_REVALIDATE_MS = 300_000;

async function measure(variant: "bare" | "ours", settings: Settings, watch = true): Promise<Row> {
  const sessions = Math.max(1, Math.floor(settings.sockets / settings.tabs));
  const children: ChildProcess[] = [];
  try {
    const node = spawnChild("./lifecycle-node.ts", ["--expose-gc"]);
    const load = spawnChild("./scale-client.ts");
    children.push(node, load);
    const toNode = channel<LifecycleRequest>(node, "lifecycle node");
    const toLoad = channel<LoadRequest>(load, "lifecycle load");
    const { port, cookies } = await toNode<{ port: number; cookies: string[] }>(
      { type: "setup", variant, sessions, revalidate: watch ? settings.interval : DEFAULT_REVALIDATE_MS },
      60_000,
    );
    const mark = (gc: boolean) => toNode<LifecycleMark>({ type: "mark", gc }, 60_000);
    const before = await mark(true);
    // A storm: the tabs of a session reconnect together (after a deploy), one session after another.
    const tabs = Array.from({ length: settings.sockets }, (_, i) => cookies[Math.floor(i / settings.tabs) % sessions]!);
    const opened = await toLoad<LoadOpened>(
      { type: "open", url: `http://127.0.0.1:${port}`, cookies: tabs, concurrency: 64, timeoutMs: 60_000 },
      300_000,
    );
    if (opened.failed > 0)
      throw new Error(`${variant}: ${opened.failed} sockets failed to connect (${opened.sample ?? "?"})`);
    const connected = await mark(true);
    if (!watch) {
      await new Promise((resolve) => setTimeout(resolve, SHARED_READ_WINDOW_MS));
      const settledHeap = await mark(true);
      return {
        variant,
        connected: connected.sockets,
        readsPerSocket: connected.reads / settings.sockets,
        handshakeReadsPerSession: connected.handshakeReads / sessions,
        rereadsPerSessionPerInterval: Number.NaN,
        timers: connected.timers,
        heapPerSocket: (connected.heapUsed - before.heapUsed) / settings.sockets,
        heapPerSocketSettled: (settledHeap.heapUsed - before.heapUsed) / settings.sockets,
      };
    }
    // The first re-read of a session comes between half an interval and one after its handshake; from
    // then on one per interval. Let the first ones pass, then watch three whole intervals.
    await new Promise((resolve) => setTimeout(resolve, settings.interval * 1.25));
    const settled = await mark(false);
    const watchedIntervals = 3;
    await new Promise((resolve) => setTimeout(resolve, settings.interval * watchedIntervals));
    const later = await mark(false);
    return {
      variant,
      connected: connected.sockets,
      readsPerSocket: connected.reads / settings.sockets,
      handshakeReadsPerSession: connected.handshakeReads / sessions,
      rereadsPerSessionPerInterval:
        variant === "bare" ? 0 : (later.reads - settled.reads) / sessions / watchedIntervals,
      timers: connected.timers,
      heapPerSocket: (connected.heapUsed - before.heapUsed) / settings.sockets,
      heapPerSocketSettled: Number.NaN,
    };
  } finally {
    for (const child of children) child.kill("SIGKILL");
  }
}

async function main(): Promise<void> {
  useBuiltPackage();
  const settings = parseArgs(process.argv.slice(2));
  const sessions = Math.max(1, Math.floor(settings.sockets / settings.tabs));
  process.stderr.write(
    `bench: lifecycle, ${settings.sockets} sockets over ${sessions} sessions, revalidate ${settings.interval} ms\n`,
  );
  const bare = await measure("bare", settings);
  const ours = await measure("ours", settings);
  // Heap in processes of their own, with the default revalidate: at the same tabs, and at one socket per
  // session (the per-session entry then weighs on every socket). Bare socket.io knows no sessions, so its
  // figure above stands for both.
  const heap = await measure("ours", settings, false);
  const single = settings.tabs === 1 ? heap : await measure("ours", { ...settings, tabs: 1 }, false);
  const storm = ours.handshakeReadsPerSession;
  const lines = [
    `### The session lifecycle at ${settings.sockets.toLocaleString("en")} sockets over ${sessions.toLocaleString("en")} sessions`,
    "",
    `${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, Node ${process.version}; one socket.io server, express-session's MemoryStore, websocket clients in another process; \`revalidate: ${settings.interval}\`, three intervals watched once the first re-reads have passed.`,
    "",
    "| figure | bare socket.io | ours | goal |",
    "|---|---|---|---|",
    `| sockets connected | ${bare.connected} | ${ours.connected} | all |`,
    `| storm: handshake store reads per distinct session (${settings.tabs} tabs each, the default \`sharedReadMaxAge\`) | — | ${storm.toFixed(2)} (${(storm / settings.tabs).toFixed(2)} per socket) | ≤ 1.1 (one read per socket would be ${settings.tabs}): ${storm <= 1.1 ? "met" : "NOT met"} |`,
    `| store reads while connecting, per socket (handshakes, and periodic re-reads that fell due meanwhile) | — | ${ours.readsPerSocket.toFixed(2)} | reported |`,
    `| re-reads per session per interval | — | ${ours.rereadsPerSessionPerInterval.toFixed(2)} | 1 (not ${settings.tabs}, one per socket) |`,
    `| live timers made with setTimeout | ${bare.timers} | ${ours.timers} (+${ours.timers - bare.timers}) | one for all sessions (a timer per node), not one per session (${sessions}) or per socket |`,
    heapRow(`${settings.tabs} sockets per session`, bare, heap, 0.4, "half of +0.8"),
    heapRow("1 socket per session", bare, single, 1.1, "half of +2.2"),
    "",
  ];
  console.log(lines.join("\n"));
}

/**
 * Two figures per shape: once the shared-read window has passed (the socket's weight for the rest of its
 * life: the goal), and right after the storm, while each session's last read is kept for sharing.
 */
function heapRow(shape: string, bare: Row, ours: Row, goalKiB: number, goalText: string): string {
  const kib = (bytes: number) => (bytes / 1024).toFixed(2);
  const settled = ours.heapPerSocketSettled - bare.heapPerSocket;
  const early = ours.heapPerSocket - bare.heapPerSocket;
  return (
    `| JS heap per connected socket, ${shape}: once \`sharedReadMaxAge\` has passed (during the first 5 s: +${kib(early)} KiB, the last reads kept for sharing) ` +
    `| ${kib(bare.heapPerSocket)} KiB | ${kib(ours.heapPerSocketSettled)} KiB (+${kib(settled)}) | ≤ +${goalKiB.toFixed(2)} KiB (${goalText}): ${settled / 1024 <= goalKiB ? "met" : "NOT met"} |`
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
