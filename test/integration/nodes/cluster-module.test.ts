import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPushClient } from "socket.io-session-auth/push-client";
import { eventually } from "../../support/eventually.js";
import { ask, connect, refusal, type ClientOptions } from "../../support/realtime.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { startWebApp, sessionIdOf, type WebApp } from "../../support/web-app.js";

// Node's cluster module on one machine: docs/examples/several-nodes-cluster-module.ts run as it is (a
// primary with @socket.io/sticky and two workers on @socket.io/cluster-adapter), as its own process tree.
// The web app writes sessions with connect-redis to a real redis-server; the workers read them there.

const SECRET = "keyboard cat";
const TOKEN = "cluster-module-token-0123456789";
const EXAMPLE = fileURLToPath(new URL("../../../docs/examples/several-nodes-cluster-module.ts", import.meta.url));
const available = redisServerAvailable();

const TRANSPORTS = [
  ["polling only (every request must reach the same worker)", { transports: ["polling"] }],
  ["polling, then upgrade", { transports: ["polling", "websocket"] }],
] satisfies Array<[string, ClientOptions]>;

interface WhoAmI {
  userId: string | null;
  worker: number;
}

describe.skipIf(!available)("two workers of Node's cluster module (cluster adapter + sticky)", () => {
  let redis: RedisServer;
  let web: WebApp;
  let closeWriter: () => void;
  let primary: ChildProcess;
  let url: string;
  /** The first-refusal lines the workers printed (the example sets no onError); their other stderr passes through. */
  const notices: string[] = [];
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    const writer = createClient({ url: redis.url });
    writer.on("error", () => {});
    await writer.connect();
    closeWriter = () => writer.destroy();
    web = await startWebApp({ store: new RedisStore({ client: writer }) });

    // tsx's loader, so the example runs as TypeScript; the workers inherit it from the primary's execArgv.
    primary = fork(EXAMPLE, [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, PORT: "0", WORKERS: "2", REDIS_URL: redis.url, SESSION_SECRET: SECRET, PUSH_TOKEN: TOKEN },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    primary.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.split(/(?<=\n)/)) {
        if (line.startsWith("socket.io-session-auth: refused a handshake: ")) notices.push(line);
        else process.stderr.write(line);
      }
    });
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the primary did not print its address within 20 s")), 20_000);
      let text = "";
      primary.stdout!.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      primary.once("exit", (code) => reject(new Error(`the primary exited with ${code}`)));
    });
    // Both workers up and knowing each other: an acked push to nobody waits for every worker's count.
    await eventually(async () => {
      const res = await fetch(`${url}/push/health`, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) throw new Error(`health ${res.status}`);
    }, 20_000);
  }, 45_000);

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    if (primary !== undefined && primary.exitCode === null) {
      const exited = once(primary, "exit");
      primary.kill("SIGTERM"); // the workers exit with it (their IPC channel closes)
      await exited;
    }
    await web?.close();
    closeWriter?.();
    await redis?.stop();
  });

  const push = () => createPushClient({ url: `${url}/push`, token: TOKEN });

  /**
   * Opens sockets for one user until they sit on both workers (least-connection alternates); at most 8.
   * Polling first, as browsers do: websocket-only clients hang now and then through sticky (see below).
   */
  async function onBothWorkers(userId: string, options: ClientOptions = { transports: ["polling", "websocket"] }) {
    const cookie = await web.login({ id: userId });
    const mine: Array<{ socket: ClientSocket; worker: number }> = [];
    for (let i = 0; i < 8 && new Set(mine.map((s) => s.worker)).size < 2; i++) {
      const socket = await connect(url, { cookie, ...options });
      sockets.push(socket);
      mine.push({ socket, worker: (await ask<WhoAmI>(socket, "whoami")).worker });
    }
    expect(new Set(mine.map((s) => s.worker)).size).toBe(2);
    return { cookie, sockets: mine.map((s) => s.socket) };
  }

  // SKIPPED, an upstream problem: through @socket.io/sticky 2.0.1 about 3% of websocket-only connections
  // hang after the engine handshake (the worker logs the connection, the client never gets CONNECT),
  // and about 3% of polling-to-websocket upgrades never complete (the client stays on polling, which
  // works). Reproduced with this example alone (5 of 150 websocket-only connections; 0 of 150 against a
  // single socket.io process), whatever the session. Enable once sticky is fixed.
  it.skip("authenticates over websocket only, on both workers", async () => {
    const { sockets: opened } = await onBothWorkers("t-websocket", { transports: ["websocket"] });
    for (const socket of opened) expect(await ask<WhoAmI>(socket, "whoami")).toMatchObject({ userId: "t-websocket" });
  });

  it.each(TRANSPORTS)("authenticates over %s, on both workers", async (_name, options) => {
    const { sockets: opened } = await onBothWorkers(`t-${options.transports.join("-")}`, options);
    for (const socket of opened)
      expect(await ask<WhoAmI>(socket, "whoami")).toMatchObject({ userId: `t-${options.transports.join("-")}` });
  });

  it("refuses a logged-out session over polling with the code in err.data", async () => {
    const cookie = await web.login({ id: "gone" });
    await web.logout(cookie);
    expect(await refusal(url, { cookie, transports: ["polling"] })).toMatchObject({
      message: "SESSION_NOT_FOUND",
      data: { code: "SESSION_NOT_FOUND", retryable: false },
    });
    // The worker that refused says so on stderr, once per code, naming no session id.
    await eventually(async () =>
      expect(notices.join("")).toMatch(/^socket\.io-session-auth: refused a handshake: SESSION_NOT_FOUND: /m),
    );
    expect(notices.join("")).not.toContain(sessionIdOf(cookie));
  });

  it("a push over HTTP reaches the user's sockets on every worker, with ack counts from both", async () => {
    const { sockets: opened } = await onBothWorkers("pat");
    for (const socket of opened) socket.on("confirm", (_data: unknown, ack: (value: string) => void) => ack("ok"));
    // The workers learn of each other by heartbeat through the primary: wait until both counts agree.
    const answer = await eventually(async () => {
      const sent = await push().send({
        to: { user: "pat" },
        event: "confirm",
        data: { id: 1 },
        ack: { timeout: 2000 },
      });
      expect(sent).toMatchObject({ recipients: opened.length, acked: opened.length, complete: true });
      return sent;
    });
    expect(answer.recipients).toBe(opened.length);
    expect(await push().presence(["pat", "nobody"])).toEqual({ pat: opened.length, nobody: 0 });
  });

  it("a logout that disconnects the session (POST /push/disconnect) ends its sockets on both workers", async () => {
    const { cookie, sockets: opened } = await onBothWorkers("quinn");
    const gone = opened.map((socket) => new Promise<string>((resolve) => socket.once("disconnect", resolve)));
    // What the web app's logout route does: destroy the session, then end its sockets on every worker.
    await web.logout(cookie);
    expect(await push().disconnect({ to: { session: sessionIdOf(cookie) } })).toEqual({ ok: true });
    expect(await Promise.all(gone)).toEqual(opened.map(() => "io server disconnect"));
    // Over polling: a websocket-only client hangs now and then through sticky, refused or not (see above);
    // CI timed out on it once.
    expect((await refusal(url, { cookie, transports: ["polling"] })).message).toBe("SESSION_NOT_FOUND");
  });

  // Runs last: it kills a worker. The survivor still counts the dead one until its heartbeat times out
  // (the cluster adapter's 10 s), so it cannot know every worker answered: the answer must say so.
  it("a worker that crashes: acks say complete: false with the survivors' true count, and the count heals", async () => {
    const { sockets: opened } = await onBothWorkers("rex");
    for (const socket of opened) socket.on("confirm", (_data: unknown, ack: (value: string) => void) => ack("ok"));
    // The primary's children running the example (tsx adds a helper process of its own).
    const workers = execFileSync("pgrep", ["-P", String(primary.pid), "-f", "several-nodes-cluster-module"], {
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .map(Number);
    expect(workers).toHaveLength(2);
    process.kill(workers[0]!, "SIGKILL");
    await eventually(async () => expect(opened.some((socket) => !socket.connected)).toBe(true), 5000);
    const alive = opened.filter((socket) => socket.connected).length;
    expect(alive).toBeGreaterThan(0);
    expect(alive).toBeLessThan(opened.length);

    // The survivor still counts the dead worker: it cannot say every worker answered, and it never counts
    // a socket that did not get the message.
    expect(await push().send({ to: { user: "rex" }, event: "confirm", ack: { timeout: 1000 } })).toMatchObject({
      recipients: alive,
      acked: alive,
      complete: false,
    });
    // Once the survivor stops counting the dead worker, the answers are complete again.
    await eventually(async () => {
      expect(await push().send({ to: { user: "rex" }, event: "confirm", ack: { timeout: 1000 } })).toMatchObject({
        recipients: alive,
        acked: alive,
        complete: true,
      });
    }, 25_000);
    expect(await push().presence(["rex"])).toEqual({ rex: alive });
  }, 45_000);
});
