import { readFileSync } from "node:fs";
import { RedisStore } from "connect-redis";
import { Redis } from "ioredis";
import { createClient, createCluster } from "redis";
import type { Server } from "socket.io";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionAuth } from "socket.io-session-auth";
import type { PushRouter } from "socket.io-session-auth/push";
import { createPushClient } from "socket.io-session-auth/push-client";
import { redisStore, type RedisStoreOptions } from "socket.io-session-auth/redis";
import { startNode as startClassicNode } from "../../../docs/examples/push-node.js";
import { startShardedNode } from "../../../docs/examples/several-nodes-sharded.js";
import { startStreamsNode } from "../../../docs/examples/several-nodes-streams.js";
import { listen, untilServerCount, userOnNodes } from "../../support/nodes.js";
import { readBlocks } from "../../support/pages.js";
import { connect } from "../../support/realtime.js";
import { redisClusterAvailable, startRedisCluster, type RedisCluster } from "../../support/redis-cluster.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { startWebApp, sessionIdOf, type WebApp } from "../../support/web-app.js";

// The push router, presence and the session lifecycle across two socket.io nodes, on each of socket.io's
// Redis adapters: the classic one (PUBLISH/SUBSCRIBE), the sharded one (Redis 7 SPUBLISH/SSUBSCRIBE) on a
// single Redis 7 and on a 3-master Redis Cluster, and the streams one. Every node is built by the docs
// example of its set-up; sessions are written by Express + connect-redis on the same Redis.

const SECRET = "keyboard cat";
const TOKEN = "nodes-token-0123456789abcdef";
const serverAvailable = redisServerAvailable();
const clusterAvailable = serverAvailable && redisClusterAvailable();

interface Node {
  url: string;
  io: Server;
  push: PushRouter;
  auth?: SessionAuth;
  close(): Promise<void>;
}

/** What each set-up provides: where the sessions live and how a node is started. */
interface Setup {
  name: string;
  needsCluster: boolean;
  start(redis: {
    server: RedisServer;
    cluster: RedisCluster | undefined;
  }): Promise<{ web: WebApp; node(): Promise<Node>; close(): Promise<void> }>;
}

/** The web side on a single redis-server: express-session + connect-redis over node-redis. */
async function webOnServer(server: RedisServer) {
  const writer = createClient({ url: server.url });
  writer.on("error", () => {});
  await writer.connect();
  const web = await startWebApp({ store: new RedisStore({ client: writer }) });
  return { web, close: async () => (await web.close(), writer.destroy()) };
}

const SETUPS: Setup[] = [
  {
    name: "classic @socket.io/redis-adapter (docs/examples/push-node.ts)",
    needsCluster: false,
    async start({ server }) {
      const { web, close } = await webOnServer(server);
      const readers: Redis[] = [];
      return {
        web,
        async node() {
          const reader = new Redis(server.port, "127.0.0.1");
          readers.push(reader);
          const started = startClassicNode({
            redisUrl: server.url,
            store: redisStore({ client: reader }),
            secret: SECRET,
            pushTokens: [TOKEN],
          });
          return { ...started, url: await listen(started.http) };
        },
        close: async () => {
          for (const reader of readers) reader.disconnect();
          await close();
        },
      };
    },
  },
  {
    name: "sharded adapter on a single Redis 7 (docs/examples/several-nodes-sharded.ts)",
    needsCluster: false,
    async start({ server }) {
      const { web, close } = await webOnServer(server);
      return {
        web,
        async node() {
          const started = await startShardedNode({ redis: server.url, secret: SECRET, pushTokens: [TOKEN] });
          return { ...started, url: await listen(started.http) };
        },
        close,
      };
    },
  },
  {
    name: "sharded adapter on a 3-master Redis Cluster (docs/examples/several-nodes-sharded.ts)",
    needsCluster: true,
    async start({ cluster }) {
      const writer = createCluster({ rootNodes: [...cluster!.rootNodes] });
      writer.on("error", () => {});
      await writer.connect();
      const web = await startWebApp({ store: new RedisStore({ client: writer }) });
      return {
        web,
        async node() {
          const started = await startShardedNode({
            redis: cluster!.rootNodes.map((n) => n.url),
            secret: SECRET,
            pushTokens: [TOKEN],
          });
          return { ...started, url: await listen(started.http) };
        },
        close: async () => (await web.close(), writer.destroy()),
      };
    },
  },
  {
    name: "streams adapter (docs/examples/several-nodes-streams.ts)",
    needsCluster: false,
    async start({ server }) {
      const { web, close } = await webOnServer(server);
      return {
        web,
        async node() {
          const started = await startStreamsNode({ redisUrl: server.url, secret: SECRET, pushTokens: [TOKEN] });
          return { ...started, url: await listen(started.http) };
        },
        close,
      };
    },
  },
];

let redisServer: RedisServer | undefined;
let redisCluster: RedisCluster | undefined;

beforeAll(async () => {
  if (serverAvailable) redisServer = await startRedisServer();
  if (clusterAvailable) redisCluster = await startRedisCluster();
});

afterAll(async () => {
  await redisServer?.stop();
  await redisCluster?.stop();
});

describe.each(SETUPS)("two nodes on the $name", (setup) => {
  const skip = !serverAvailable || (setup.needsCluster && !clusterAvailable);
  let a: Node;
  let b: Node;
  let web: WebApp;
  let closeSetup: () => Promise<void>;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    if (skip) return;
    const started = await setup.start({ server: redisServer!, cluster: redisCluster });
    web = started.web;
    closeSetup = started.close;
    a = await started.node();
    b = await started.node();
    await untilServerCount([a.io, b.io], 2);
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await a?.close();
    await b?.close();
    await closeSetup?.();
  });

  /** Logs a user in over HTTP and opens one socket per node given (websocket: no sticky sessions needed). */
  const user = (id: string, ...nodes: Array<{ url: string }>) => userOnNodes(web, id, nodes, sockets);

  const next = (socket: ClientSocket, event: string) => new Promise<unknown>((resolve) => socket.once(event, resolve));
  const acking = (socket: ClientSocket, event: string) =>
    socket.on(event, (_data: unknown, ack?: (value: string) => void) => ack?.("ok"));
  /** Everything `socket` receives of `event` over the next `ms`. */
  const collect = async (socket: ClientSocket, event: string, ms: number) => {
    const seen: unknown[] = [];
    const listener = (data: unknown) => seen.push(data);
    socket.on(event, listener);
    await new Promise((resolve) => setTimeout(resolve, ms));
    socket.off(event, listener);
    return seen;
  };

  it.skipIf(skip)("a push sent over HTTP to node A reaches the user's sockets on both nodes, each once", async () => {
    const alice = await user(`alice`, a, b);
    const received = alice.sockets.map((socket) => collect(socket, "order:shipped", 1000));
    // Targeted twice (by user and by session): socket.io's room union still sends each socket one copy.
    const answer = await createPushClient({ url: `${a.url}/push`, token: TOKEN }).send({
      to: { user: "alice", session: sessionIdOf(alice.cookie) },
      event: "order:shipped",
      data: { id: 7 },
    });
    expect(answer).toEqual({ ok: true, id: expect.any(String) });
    expect(await Promise.all(received)).toEqual([[{ id: 7 }], [{ id: 7 }]]);
  });

  it.skipIf(skip)("except leaves out the excepted user on the other node", async () => {
    const bob = await user("bob", b);
    const carol = await user("carol", b, a);
    const bobGot = collect(bob.sockets[0]!, "news", 1000);
    const carolGot = carol.sockets.map((socket) => collect(socket, "news", 1000));
    await a.push.send({ to: { user: ["bob", "carol"] }, except: { user: "bob" }, event: "news", data: 1 });
    expect(await bobGot).toEqual([]);
    expect(await Promise.all(carolGot)).toEqual([[1], [1]]);
  });

  it.skipIf(skip)(
    "counts recipients and acks on both nodes, and says complete: false when a socket stays silent",
    async () => {
      const dave = await user("dave", a, b, b);
      for (const socket of dave.sockets) acking(socket, "confirm");
      expect(await a.push.send({ to: { user: "dave" }, event: "confirm", ack: { timeout: 5000 } })).toEqual({
        ok: true,
        id: expect.any(String),
        recipients: 3,
        acked: 3,
        complete: true,
      });
      const silent = await user("dave", b);
      silent.sockets[0]!.on("confirm", () => {});
      expect(await b.push.send({ to: { user: "dave" }, event: "confirm", ack: { timeout: 500 } })).toMatchObject({
        recipients: 4,
        acked: 3,
        complete: false,
      });
      expect(await a.push.send({ to: { user: "nobody" }, event: "confirm", ack: { timeout: 5000 } })).toMatchObject({
        recipients: 0,
        acked: 0,
        complete: true,
      });
    },
  );

  it.skipIf(skip)("counts presence over both nodes", async () => {
    await user("erin", a, b, b);
    expect(await createPushClient({ url: `${b.url}/push`, token: TOKEN }).presence(["erin", "nobody"])).toEqual({
      erin: 3,
      nobody: 0,
    });
  });

  it.skipIf(skip)("disconnects a user's sockets on both nodes", async () => {
    const frank = await user("frank", a, b);
    const gone = frank.sockets.map((socket) => next(socket, "disconnect"));
    expect(
      await createPushClient({ url: `${a.url}/push`, token: TOKEN }).disconnect({ to: { user: "frank" } }),
    ).toEqual({ ok: true });
    expect(await Promise.all(gone)).toEqual(["io server disconnect", "io server disconnect"]);
  });

  // The session lifecycle (auth.endSession / auth.endUser through the adapter's serverSideEmit): called on
  // node A, every socket of that session (or user) on both nodes gets `session:ended` with the code, then
  // a server-side disconnect; other users' sockets stay.
  it.skipIf(skip)("endSession and endUser on node A end the sockets on both nodes", async () => {
    const grace = await user("grace", a, b);
    const heidi = await user("heidi", a, b);
    const bystander = await user("ivan", a, b);
    const lifecycle = a.auth!;
    // Both listeners at once: the event and the disconnect can arrive in one read of the connection.
    const ended = (sockets: ClientSocket[]) =>
      Promise.all(sockets.map((socket) => Promise.all([next(socket, "session:ended"), next(socket, "disconnect")])));
    const graceEnded = ended(grace.sockets);
    // Both nodes confirmed (issue 18: the resolved value says whether any node could not).
    expect(await lifecycle.endSession(a.io, sessionIdOf(grace.cookie))).toEqual({
      nodes: 2,
      acknowledged: 2,
      complete: true,
    });
    expect(await graceEnded).toEqual([
      [{ code: "SESSION_NOT_FOUND" }, "io server disconnect"],
      [{ code: "SESSION_NOT_FOUND" }, "io server disconnect"],
    ]);
    const heidiEnded = ended(heidi.sockets);
    expect(await lifecycle.endUser(a.io, "heidi")).toEqual({ nodes: 2, acknowledged: 2, complete: true });
    expect(await heidiEnded).toEqual([
      [{ code: "UNAUTHENTICATED" }, "io server disconnect"],
      [{ code: "UNAUTHENTICATED" }, "io server disconnect"],
    ]);
    expect(bystander.sockets.every((socket) => socket.connected)).toBe(true);
  });
});

// Live revocation is per node (each node's store subscribes to Redis keyspace events for itself), so the
// adapter plays no part: one pair of nodes shows it. A logout over HTTP (connect-redis `destroy`) ends the
// session's sockets on both nodes with `session:ended` { code: "SESSION_NOT_FOUND" } then a server-side
// disconnect, with no call to the library.
describe.skipIf(!serverAvailable)("live revocation across two nodes", () => {
  it("a logout over HTTP ends the session's sockets on both nodes (keyspace events)", async () => {
    await redisServer!.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
    const { web, close: closeWeb } = await webOnServer(redisServer!);
    const clients: Redis[] = [];
    const nodes: Node[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const client = new Redis(redisServer!.port, "127.0.0.1");
        const subscriber = client.duplicate();
        clients.push(client, subscriber);
        const options = { client, subscriber } as RedisStoreOptions;
        const started = startClassicNode({
          redisUrl: redisServer!.url,
          store: redisStore(options),
          secret: SECRET,
          pushTokens: [TOKEN],
        });
        nodes.push({ ...started, url: await listen(started.http) });
      }
      await untilServerCount(
        nodes.map((node) => node.io),
        2,
      );
      const cookie = await web.login({ id: "judy" });
      const sockets = await Promise.all(nodes.map((node) => connect(node.url, { cookie, transports: ["websocket"] })));
      const ended = sockets.map((socket) =>
        Promise.all([
          new Promise((resolve) => socket.once("session:ended", resolve)),
          new Promise((resolve) => socket.once("disconnect", resolve)),
        ]),
      );
      await web.logout(cookie);
      expect(await Promise.all(ended)).toEqual([
        [{ code: "SESSION_NOT_FOUND" }, "io server disconnect"],
        [{ code: "SESSION_NOT_FOUND" }, "io server disconnect"],
      ]);
      for (const socket of sockets) socket.close();
    } finally {
      for (const node of nodes) await node.close();
      for (const client of clients) client.disconnect();
      await closeWeb();
    }
  });
});

describe("docs/several-nodes.md", () => {
  const page = readFileSync(new URL("../../../docs/several-nodes.md", import.meta.url), "utf8");
  const regionOf = (file: string, region: string) => {
    const source = readFileSync(new URL(`../../../docs/examples/${file}`, import.meta.url), "utf8");
    const start = source.indexOf(`// #region ${region}\n`);
    const end = source.indexOf(`// #endregion ${region}`);
    expect(start, `${file} has its region ${region}`).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    return source.slice(start + `// #region ${region}\n`.length, end);
  };

  it("writes out the cluster-module program, a whole app, as the file the tests run", () => {
    // GitHub shows an include line as plain text: a whole app is written in the page's Markdown, and must
    // stay what the tests run.
    const blocks = readBlocks("docs/several-nodes.md");
    expect(page).not.toContain("<<< @/examples/several-nodes-cluster-module.ts");
    expect(blocks.map((block) => `${block.code}\n`)).toContain(
      regionOf("several-nodes-cluster-module.ts", "several-nodes-cluster-module"),
    );
  });

  it("includes the nodes tested here (modules an entry point calls) as their complete example files", () => {
    for (const [file, region] of [
      ["push-node.ts", "push-node"],
      ["several-nodes-sharded.ts", "several-nodes-sharded"],
      ["several-nodes-streams.ts", "several-nodes-streams"],
    ] as const) {
      expect(page).toContain(`<<< @/examples/${file}#${region}`);
      regionOf(file, region);
    }
  });
});
