import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionAuthOptions } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { redisAdapter, startAuthNode, type AuthNode } from "../../support/nodes.js";
import { connect, ending } from "../../support/realtime.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { sessionIdOf, startWebApp, type WebApp } from "../../support/web-app.js";

// Two socket.io nodes joined by @socket.io/redis-adapter over a real redis-server: a session ended on one
// node ends its sockets on both, through socket.io's own adapter.

const SECRET = "keyboard cat";

type Node = AuthNode;

describe.skipIf(!redisServerAvailable())("the lifecycle across two nodes (redis adapter)", () => {
  let redis: RedisServer;
  let web: WebApp;
  const nodes: Node[] = [];
  const sockets: ClientSocket[] = [];

  async function startNode(options: Partial<SessionAuthOptions> = {}): Promise<Node> {
    const node = await startAuthNode(
      { store: memoryStore(web.store), secret: SECRET, ...options },
      redisAdapter(redis.url),
    );
    nodes.push(node);
    return node;
  }

  async function pair(options: Partial<SessionAuthOptions> = {}): Promise<[Node, Node]> {
    const a = await startNode(options);
    const b = await startNode(options);
    await expect
      .poll(async () => (await a.io.of("/").adapter.serverCount()) + (await b.io.of("/").adapter.serverCount()), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(4);
    return [a, b];
  }

  async function open(node: Node, cookie: string): Promise<ClientSocket> {
    const socket = await connect(node.url, { cookie, transports: ["websocket"] });
    sockets.push(socket);
    return socket;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    web = await startWebApp();
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const node of nodes) await node.close();
    await web?.close();
    await redis?.stop();
  });

  it("logout on node A ends the session's sockets on nodes A and B within 1 s; other sessions stay", async () => {
    const [a, b] = await pair();
    const cookie = await web.login({ id: "ann" });
    const onA = await open(a, cookie);
    const onB = await open(b, cookie);
    const otherTab = await open(b, await web.login({ id: "ann" })); // the same user, another session
    const seen = [onA, onB].map((socket) => ending(socket));
    const started = Date.now();
    await web.logout(cookie);
    expect(await a.auth.endSession(a.io, sessionIdOf(cookie))).toEqual({ nodes: 2, acknowledged: 2, complete: true });
    expect(await Promise.all(seen)).toEqual([
      { event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" },
      { event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" },
    ]);
    expect(Date.now() - started).toBeLessThan(1_000);
    // Each node ran onSessionEnd for its own socket.
    expect(a.ends.map((error) => error.code)).toEqual(["SESSION_NOT_FOUND"]);
    expect(b.ends.map((error) => error.code)).toEqual(["SESSION_NOT_FOUND"]);
    expect(otherTab.connected).toBe(true);
  });

  it("endUser on node B ends the user's sockets on both nodes, with rooms off", async () => {
    const [a, b] = await pair({ rooms: false });
    const first = await open(a, await web.login({ id: "bob" }));
    const second = await open(b, await web.login({ id: "bob" }));
    const stranger = await open(a, await web.login({ id: "cat" }));
    const seen = [first, second].map((socket) => ending(socket));
    // The first test's pair is still on this Redis: every node there answers, and all of them confirmed.
    const result = await b.auth.endUser(b.io, "bob");
    expect(result).toMatchObject({ complete: true, acknowledged: result.nodes });
    expect(result.nodes).toBeGreaterThanOrEqual(2);
    expect(await Promise.all(seen)).toEqual([
      { event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" },
      { event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" },
    ]);
    expect(stranger.connected).toBe(true);
  });

  it("endSession from a node that holds none of the session's sockets ends them on the node that does", async () => {
    const [a, b] = await pair();
    const cookie = await web.login({ id: "dan" });
    const onB = await open(b, cookie);
    const seen = ending(onB);
    await a.auth.endSession(a.io, sessionIdOf(cookie), "FORBIDDEN");
    expect(await seen).toEqual({ event: { code: "FORBIDDEN" }, reason: "io server disconnect" });
  });
});
