import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import pg from "pg";
import { freePort } from "./ports.js";

export { freePort }; // where test/integration/docs/pages.test.ts takes it from

/** A real PostgreSQL server on 127.0.0.1, in a temporary folder, started for a test file. */
export interface PostgresServer {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication: a throwaway cluster on loopback). */
  readonly url: string;
  /** What `new pg.Pool(...)` / `new pg.Client(...)` take to reach it. */
  readonly config: { host: string; port: number; user: string; database: string };
  /** Stops the server (fast shutdown: SIGINT, then waits for the exit). Its data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data, and waits until a real connection answers. */
  start(): Promise<void>;
  /** Runs one statement over a short-lived connection (for setup and assertions). */
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** Stops the server for good and removes its folder. */
  destroy(): Promise<void>;
}

/**
 * Where the server binaries are: `POSTGRES_BIN_DIR`, else the PATH, else Debian's
 * `/usr/lib/postgresql/<version>/bin` (the newest), which is not on the PATH after `apt-get install postgresql`.
 */
function binDir(): string | undefined {
  const given = process.env.POSTGRES_BIN_DIR;
  if (given !== undefined) return given;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    // Through a symlink (/usr/local/bin/postgres): the real folder, where pg_config and the libraries sit beside it.
    if (dir !== "" && existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres")))
      return dirname(realpathSync(join(dir, "postgres")));
  }
  const debian = "/usr/lib/postgresql";
  if (!existsSync(debian)) return undefined;
  const versions = readdirSync(debian)
    .filter((name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join(debian, name, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(debian, versions[0], "bin");
}

/** Whether PostgreSQL can be run here. With CI=true its absence is a failure, not a skip. */
export function postgresAvailable(): boolean {
  const dir = binDir();
  const found = dir !== undefined && spawnSync(join(dir, "postgres"), ["--version"], { stdio: "ignore" }).status === 0;
  if (!found && process.env.CI === "true") {
    throw new Error(
      "PostgreSQL is required in CI (CI=true) but no initdb/postgres was found (POSTGRES_BIN_DIR, PATH, /usr/lib/postgresql/*/bin); .ci/run installs it with apt-get.",
    );
  }
  if (!found) {
    console.warn(
      "\n!!! SKIPPING PostgreSQL tests: initdb/postgres not found. Install it (apt-get install -y postgresql) to run them.\n",
    );
  }
  return found;
}

/**
 * PostgreSQL refuses to run as root. As root (CI, this machine) the server runs as the `postgres` user
 * that Debian's package creates (or `POSTGRES_RUN_AS`), and owns its temporary folder.
 */
function runAs(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const name = process.env.POSTGRES_RUN_AS ?? "postgres";
  const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      `PostgreSQL will not run as root, and there is no user "${name}" to run it as: create one (useradd --system ${name}) or set POSTGRES_RUN_AS.`,
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Whether the contrib module is installed beside the server (Debian's postgresql package ships it). */
function hasPgStatStatements(dir: string): boolean {
  const lib = spawnSync(join(dir, "pg_config"), ["--pkglibdir"], { encoding: "utf8" });
  const libdir = lib.status === 0 ? lib.stdout.trim() : join(dir, "..", "lib");
  return existsSync(join(libdir, "pg_stat_statements.so"));
}

/**
 * initdb in a fresh temporary folder, then postgres on a free port of 127.0.0.1 (its Unix socket in
 * that folder too, never /var/run), health-checked by a real connection (never a fixed sleep).
 * Durability is off (fsync, synchronous_commit): a throwaway test cluster. `pg_stat_statements` is
 * loaded when installed, so tests can count the statements an adapter sends.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const dir = binDir();
  if (dir === undefined) throw new Error("PostgreSQL is not installed (apt-get install -y postgresql)");
  const owner = runAs();
  const root = mkdtempSync(join(tmpdir(), "sio-pg-"));
  const data = join(root, "data");
  if (owner !== undefined) chownSync(root, owner.uid, owner.gid);
  const spawnOptions = { cwd: root, ...(owner ?? {}) };

  const init = spawnSync(
    join(dir, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
    { ...spawnOptions, encoding: "utf8" },
  );
  if (init.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr.trim().split("\n").slice(-3).join(" / ")}`);
  }
  const statements = hasPgStatStatements(dir);
  const port = await freePort();
  const config = { host: "127.0.0.1", port, user: "postgres", database: "postgres" };
  let child: ChildProcess | undefined;
  let log = "";

  const ping = async (): Promise<boolean> => {
    const client = new pg.Client({ ...config, connectionTimeoutMillis: 1000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };

  const start = async (): Promise<void> => {
    log = "";
    const args = ["-D", data, "-p", String(port), "-k", root, "-c", "listen_addresses=127.0.0.1"];
    args.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
    if (statements) args.push("-c", "shared_preload_libraries=pg_stat_statements");
    child = spawn(join(dir, "postgres"), args, { ...spawnOptions, stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (chunk: Buffer) => void (log = (log + chunk.toString("utf8")).slice(-4000)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`postgres exited with ${child.exitCode} before answering on port ${port}: ${log.trim()}`);
      if (await ping()) break;
      if (Date.now() > deadline) throw new Error(`postgres did not answer on port ${port} within 20 s: ${log.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (statements) await query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  };

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = once(running, "exit");
    running.kill("SIGINT"); // fast shutdown: ends every connection now, as a crash or a failover would
    await exited;
  };

  const query = async <R extends object>(text: string, values?: unknown[]): Promise<R[]> => {
    const client = new pg.Client(config);
    client.on("error", () => {});
    await client.connect();
    try {
      return (await client.query(text, values)).rows as R[];
    } finally {
      await client.end();
    }
  };

  const stopOnExit = (): void => void child?.kill("SIGKILL");
  process.once("exit", stopOnExit);
  try {
    await start();
  } catch (error) {
    await stop();
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    config,
    start,
    stop,
    query,
    destroy: async () => {
      await stop();
      process.off("exit", stopOnExit);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
