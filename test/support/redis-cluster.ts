import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./ports.js";

/** One master of a {@link RedisCluster}. */
export interface ClusterMaster {
  readonly port: number;
  /** Whether the process is running (false between {@link ClusterMaster.kill} and {@link ClusterMaster.start}). */
  readonly running: boolean;
  /** SIGKILLs the master, as a crash would: no goodbye to clients or to the cluster bus. */
  kill(): Promise<void>;
  /**
   * Starts it again on the same ports with its own `nodes.conf`, so it rejoins with the same node id and
   * slots (empty: nothing is persisted), and waits until every master reports `cluster_state:ok`.
   */
  start(): Promise<void>;
  /** One command through `redis-cli` to this master alone (no redirects), its reply as text. */
  command(...args: string[]): Promise<string>;
}

/** A real Redis Cluster of masters on 127.0.0.1, without replicas, started for a test file. */
export interface RedisCluster {
  readonly masters: readonly ClusterMaster[];
  /** Seed nodes as ioredis `new Cluster(nodes)` and node-redis `createCluster({ rootNodes })` take them. */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  readonly rootNodes: ReadonlyArray<{ url: string }>;
  /** The master serving `key`'s hash slot right now. */
  masterOf(key: string): Promise<ClusterMaster>;
  /** Runs `args` on every master (CONFIG SET on a Cluster is per node). */
  everyMaster(...args: string[]): Promise<string[]>;
  /** Resolves once every running master answers CLUSTER INFO with `cluster_state:ok`. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const SERVER = process.env.REDIS_SERVER_BIN ?? "redis-server";
const CLI = process.env.REDIS_CLI_BIN ?? "redis-cli";

/**
 * Whether a Redis Cluster can be started here: redis-server 7+ (for `cluster-port`, and sharded pub/sub)
 * and redis-cli. With CI=true a missing one is a failure, not a skip, as for redis-server alone.
 */
export function redisClusterAvailable(): boolean {
  const server = spawnSync(SERVER, ["--version"], { encoding: "utf8" });
  const cli = spawnSync(CLI, ["--version"], { encoding: "utf8" });
  const major = Number(/v=(\d+)\./.exec(server.stdout ?? "")?.[1] ?? 0);
  let missing: string | undefined;
  if (server.status !== 0) missing = `"${SERVER}" could not be run`;
  else if (cli.status !== 0) missing = `"${CLI}" could not be run`;
  else if (major < 7) missing = `redis-server ${major} is older than 7 (needed for cluster-port and sharded pub/sub)`;
  if (missing === undefined) return true;
  if (process.env.CI === "true") {
    throw new Error(
      `A Redis Cluster is required in CI (CI=true) but ${missing}; .ci/run installs redis-server (which brings redis-cli) with apt-get.`,
    );
  }
  console.warn(
    `\n!!! SKIPPING Redis Cluster tests: ${missing}. Install Redis 7+ (apt-get install -y redis-server) to run them.\n`,
  );
  return false;
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve(stdout);
    });
  });
}

const cli = (port: number, args: string[], timeoutMs = 2000) =>
  run(CLI, ["-h", "127.0.0.1", "-p", String(port), ...args], timeoutMs);

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts `masters` redis-server processes in cluster mode on free loopback ports (each with its bus on
 * a second free port, `cluster-port`), joins them with `redis-cli --cluster create --cluster-yes`, and
 * waits until every one reports `cluster_state:ok` and knows all the others (never a fixed sleep).
 *
 * `cluster-require-full-coverage no`: with a master down, the other masters keep serving their own
 * slots, which is what a test of "one master lost" needs to see. Nothing is persisted; each master's
 * `nodes.conf` lives in a temporary directory removed by `stop()`.
 */
export async function startRedisCluster(
  options: { masters?: number; nodeTimeoutMs?: number } = {},
): Promise<RedisCluster> {
  const count = options.masters ?? 3;
  const nodeTimeout = options.nodeTimeoutMs ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), "redis-cluster-"));
  const ports = await freePorts(count * 2);
  const children = new Map<number, ChildProcess>();

  const spawnMaster = (port: number, busPort: number): ChildProcess => {
    // prettier-ignore
    const child = spawn(SERVER, [
      "--port", String(port), "--cluster-port", String(busPort), "--bind", "127.0.0.1", "--protected-mode", "no",
      "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", String(nodeTimeout),
      "--cluster-require-full-coverage", "no", "--dir", dir, "--save", "", "--appendonly", "no",
    ], { stdio: "ignore" });
    children.set(port, child);
    return child;
  };

  const answers = async (port: number): Promise<boolean> => (await cli(port, ["PING"], 500)).trim() === "PONG";
  const stateOk = async (port: number): Promise<boolean> => {
    const info = await cli(port, ["CLUSTER", "INFO"], 1000);
    return info.includes("cluster_state:ok") && info.includes(`cluster_known_nodes:${count}`);
  };

  const masters: ClusterMaster[] = [];
  for (let i = 0; i < count; i++) {
    const port = ports[i]!;
    const busPort = ports[count + i]!;
    masters.push({
      port,
      get running() {
        const child = children.get(port);
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      async kill() {
        const child = children.get(port);
        children.delete(port);
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, "exit");
        child.kill("SIGKILL");
        await exited;
      },
      async start() {
        if (this.running) return;
        const child = spawnMaster(port, busPort);
        await until(
          `master ${port} did not answer PING after a restart`,
          async () => child.exitCode === null && (await answers(port)),
          10_000,
        );
        await cluster.healthy();
      },
      command: async (...args) => (await cli(port, args)).trim(),
    });
  }

  const cluster: RedisCluster = {
    masters,
    nodes: masters.map(({ port }) => ({ host: "127.0.0.1", port })),
    rootNodes: masters.map(({ port }) => ({ url: `redis://127.0.0.1:${port}` })),
    async masterOf(key) {
      const slot = Number(await cli(masters[0]!.port, ["CLUSTER", "KEYSLOT", key]));
      const shards = await cli(masters.find((m) => m.running)!.port, ["--json", "CLUSTER", "SLOTS"]);
      for (const [from, to, [, port]] of JSON.parse(shards) as Array<[number, number, [string, number]]>) {
        if (slot >= from && slot <= to) return masters.find((m) => m.port === port)!;
      }
      throw new Error(`Redis Cluster: no master serves slot ${slot}`);
    },
    everyMaster: (...args) => Promise.all(masters.map((master) => master.command(...args))),
    async healthy(timeoutMs = 15_000) {
      await until(
        "not every master reported cluster_state:ok",
        async () => (await Promise.all(masters.filter((m) => m.running).map((m) => stateOk(m.port)))).every(Boolean),
        timeoutMs,
      );
    },
    async stop() {
      await Promise.all(masters.map((master) => master.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const killAll = () => {
    for (const child of children.values()) child.kill("SIGKILL");
  };
  process.once("exit", killAll);
  try {
    for (let i = 0; i < count; i++) spawnMaster(ports[i]!, ports[count + i]!);
    await Promise.all(
      masters.map((master) => until(`master ${master.port} did not answer PING`, () => answers(master.port), 10_000)),
    );
    await run(
      CLI,
      ["--cluster", "create", ...masters.map((m) => `127.0.0.1:${m.port}`), "--cluster-replicas", "0", "--cluster-yes"],
      30_000,
    );
    await cluster.healthy();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
