import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect as tcpConnect } from "node:net";
import { eventually } from "./eventually.js";
import { freePort } from "./ports.js";

/** A real redis-server process on 127.0.0.1, started for a test file. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGKILL-free: SIGTERM, then waits for the exit). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty, and waits until it answers PING. */
  start(): Promise<void>;
  /** Runs one command over a raw connection (for assertions without a driver). */
  command(...args: string[]): Promise<string>;
}

const BINARY = process.env.REDIS_SERVER_BIN ?? "redis-server";

/** Whether redis-server can be run here. With CI=true its absence is a failure, not a skip. */
export function redisServerAvailable(): boolean {
  const found = spawnSync(BINARY, ["--version"], { stdio: "ignore" }).status === 0;
  if (!found && process.env.CI === "true") {
    throw new Error(
      `redis-server is required in CI (CI=true) but "${BINARY}" could not be run; .ci/run installs it with apt-get.`,
    );
  }
  if (!found) {
    console.warn(
      `\n!!! SKIPPING Redis tests: "${BINARY}" is not installed. Install it (apt-get install -y redis-server) to run them.\n`,
    );
  }
  return found;
}

function resp(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

function rawCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    let buffer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("redis did not answer"));
    }, timeoutMs);
    socket.on("connect", () => socket.write(resp(args)));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      if (buffer.endsWith("\r\n")) {
        clearTimeout(timer);
        socket.end();
        resolve(buffer);
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Starts redis-server on a free port, without persistence, health-checked by PING (never a fixed sleep). */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    child = spawn(
      BINARY,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
      {
        stdio: "ignore",
      },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`redis-server exited with ${child.exitCode} before answering on port ${port}`);
      try {
        if ((await rawCommand(port, ["PING"], 500)).startsWith("+PONG")) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = once(running, "exit");
    running.kill("SIGTERM");
    await exited;
  };

  await start();
  const stopOnExit = () => child?.kill("SIGKILL");
  process.once("exit", stopOnExit);
  return { port, url: `redis://127.0.0.1:${port}`, start, stop, command: (...args) => rawCommand(port, args) };
}

/**
 * A redis-server whose port nobody listens on yet (started once for a free port, then stopped): for an
 * app started while Redis is down, then `start()` to bring Redis up on the port the app was given.
 */
export async function stoppedRedisServer(): Promise<RedisServer> {
  const redis = await startRedisServer();
  await redis.stop();
  return redis;
}

// ioredis statuses of a client on its way (back) to `ready`.
const COMING_BACK = new Set(["connecting", "connect", "reconnecting"]);

/**
 * Lets go of ioredis clients once the servers using them are closed: QUIT, so the commands still in
 * flight get their replies first (@socket.io/redis-adapter sends PUBLISH, and in `close()` UNSUBSCRIBE
 * and PUNSUBSCRIBE, without waiting or catching; `disconnect()` would reject them as "Connection is
 * closed.", an unhandled rejection). A client still reconnecting after an outage holds those commands
 * queued: it is given up to 5 s to come back first (ioredis waits at most 2 s between tries). A client
 * that does not answer QUIT within a second is disconnected anyway.
 */
export async function quitRedisClients(
  clients: Iterable<{ quit(): Promise<unknown>; disconnect(): void; status: string }>,
) {
  await Promise.all(
    [...clients].map(async (client) => {
      await eventually(async () => {
        if (COMING_BACK.has(client.status)) throw new Error(`still ${client.status}`);
      }, 5_000).catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      const quit = client.quit().then(
        () => true,
        () => true,
      );
      const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, 1000, false)));
      if (!(await Promise.race([quit, late]))) client.disconnect();
      clearTimeout(timer);
    }),
  );
}
