import { once } from "node:events";
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { sign } from "cookie-signature";
import type { Server } from "socket.io";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createNode } from "../../../docs/examples/redis-nodes.js";
import { createWebApp } from "../../../docs/examples/redis-web-app.js";
import { startShardedNode } from "../../../docs/examples/several-nodes-sharded.js";
import { startStreamsNode } from "../../../docs/examples/several-nodes-streams.js";
import { eventually } from "../../support/eventually.js";
import { connect, refusal } from "../../support/realtime.js";
import { redisServerAvailable, stoppedRedisServer, type RedisServer } from "../../support/redis-server.js";

// Issue 18, item 7: the docs' Redis apps start while Redis is down (a deploy that comes up before Redis, a
// Redis restart at the same moment). They must listen at once, refuse handshakes with the retryable
// STORE_UNAVAILABLE meanwhile, and work by themselves once Redis comes: no `await connect()` that loops on
// ECONNREFUSED before `listen`.

const SECRET = "dev only: set SESSION_SECRET"; // the examples' default: SESSION_SECRET is not set here
const STARTS_WITHIN_MS = 3_000;

interface Node {
  http: HttpServer;
  io: Server;
  close(): Promise<unknown>;
}

const NODES: Array<[string, (redisUrl: string) => Promise<Node>]> = [
  ["docs/examples/redis-nodes.ts (ioredis, classic adapter)", (url) => createNode(url)],
  [
    "docs/examples/several-nodes-sharded.ts (node-redis, sharded adapter)",
    (url) => startShardedNode({ redis: url, secret: SECRET, pushTokens: ["t".repeat(32)] }),
  ],
  [
    "docs/examples/several-nodes-streams.ts (node-redis, streams adapter)",
    (url) => startStreamsNode({ redisUrl: url, secret: SECRET, pushTokens: ["t".repeat(32)] }),
  ],
];

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not start within ${STARTS_WITHIN_MS} ms`)),
      STARTS_WITHIN_MS,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Whether a socket.io adapter's subscriptions are live on `redis` (channels, patterns or shard channels).
 * The streams adapter (@socket.io/redis-streams-adapter 0.3.1) subscribes once its own duplicate client
 * connects, never catching that SUBSCRIBE's promise, and its close() destroys the duplicate (`disconnect()`),
 * which rejects a SUBSCRIBE still unanswered: an unhandled "Disconnects client". With Redis just back, that
 * client may connect up to node-redis's reconnect delay (about 2 s) after the main one, so after the node
 * is closed: the test waits for the subscription first.
 */
async function adapterSubscribed(redis: RedisServer): Promise<void> {
  const replies = await Promise.all([
    redis.command("PUBSUB", "CHANNELS"),
    redis.command("PUBSUB", "NUMPAT"),
    redis.command("PUBSUB", "SHARDCHANNELS"),
  ]);
  if (replies.every((reply) => reply.startsWith("*0\r\n") || reply.startsWith(":0\r\n"))) {
    throw new Error("the adapter has not subscribed yet");
  }
}

async function listen(http: HttpServer): Promise<string> {
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  // Each step bounded: node-redis's close() waits for commands it still holds (seen once in a full run with
  // the sharded adapter), and a hung close must not leave Redis running for the next test.
  const bounded = (step: Promise<unknown>) =>
    Promise.race([step, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  for (const close of cleanup.splice(0).reverse()) await bounded(Promise.resolve().then(close));
  vi.restoreAllMocks();
});

describe.skipIf(!redisServerAvailable())("the docs' Redis apps, started with Redis down", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await stoppedRedisServer();
    return () => redis.stop();
  });

  it.each(NODES)("%s listens at once, refuses STORE_UNAVAILABLE, then serves when Redis comes", async (name, start) => {
    // What the apps print while Redis is away: the drivers' connection errors, and our first-refusal line.
    const printed: string[] = [];
    for (const method of ["warn", "error"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void printed.push(args.join(" ")));
    }
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });

    await redis.stop(); // down, whatever the previous test left
    const web = await within(createWebApp(redis.url), "docs/examples/redis-web-app.ts");
    const webHttp = web.app.listen(0, "127.0.0.1");
    await once(webHttp, "listening");
    const webUrl = `http://127.0.0.1:${(webHttp.address() as AddressInfo).port}`;
    cleanup.push(
      () => new Promise((resolve) => webHttp.close(resolve)),
      () => webHttp.closeAllConnections(),
      () => web.redis.destroy(),
    );
    const node = await within(start(redis.url), name);
    const url = await listen(node.http);
    // Closed while Redis is up: node-redis's close() waits for the commands it queued meanwhile.
    cleanup.push(
      () => redis.stop(),
      () => node.close(),
    );

    // A well-signed cookie: the refusal is about the store, not the cookie. The code reaches the client in
    // `err.data` where the node refuses in its middleware, and in the engine's answer where it refuses at
    // the engine (allowRequest: the streams node, whose client then sees only "xhr poll error").
    const cookie = `connect.sid=${encodeURIComponent(`s:${sign("a-session-nobody-wrote", SECRET)}`)}`;
    const failure = await refusal(url, { cookie, transports: ["polling"] });
    if (failure.data !== undefined) {
      expect(failure.data).toEqual({ code: "STORE_UNAVAILABLE", retryable: true });
    } else {
      const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { cookie } });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ message: "STORE_UNAVAILABLE" });
    }
    expect(printed.join("\n")).toMatch(/ECONNREFUSED|Connection is closed|connect/i);
    expect(printed.join("\n")).toContain("refused a handshake: STORE_UNAVAILABLE");

    await redis.start();
    const session = await eventually(async () => {
      const res = await fetch(`${webUrl}/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: 42 }),
        signal: AbortSignal.timeout(2_000),
      });
      expect(res.status).toBe(204);
      return res.headers.getSetCookie()[0]!.split(";")[0]!;
    });
    const socket = await eventually(() => connect(url, { cookie: session, transports: ["websocket"] }));
    cleanup.push(() => socket.close());
    const [seen] = await node.io.fetchSockets();
    expect(seen?.data.userId).toBe("42");
    // The adapter is back on Redis too (and closes with nothing of its own in flight).
    await eventually(() => adapterSubscribed(redis), 10_000);
  });
});
