import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryStore } from "socket.io-session-auth/memory";
import { createPushClient } from "socket.io-session-auth/push-client";
import { createWorkerPush } from "../../../docs/examples/push-emitter.js";
import { startNode } from "../../../docs/examples/push-node.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { startWebApp, type WebApp, sessionIdOf } from "../../support/web-app.js";
import { userOnNodes } from "../../support/nodes.js";

// Two socket.io nodes joined by @socket.io/redis-adapter over a real redis-server; the push router is
// reached on node A, the users are connected to node B (and A). Both nodes are built by the docs example.

const SECRET = "keyboard cat";
const TOKEN = "cluster-token-0123456789abcdef";

async function until(condition: () => Promise<boolean>, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(!redisServerAvailable())("push router across two nodes (redis adapter)", () => {
  let redis: RedisServer;
  let web: WebApp;
  let a: ReturnType<typeof startNode> & { url: string };
  let b: ReturnType<typeof startNode> & { url: string };
  const sockets: ClientSocket[] = [];

  async function node(): Promise<ReturnType<typeof startNode> & { url: string }> {
    const started = startNode({
      redisUrl: redis.url,
      store: memoryStore(web.store),
      secret: SECRET,
      pushTokens: [TOKEN],
    });
    started.http.listen(0, "127.0.0.1");
    await once(started.http, "listening");
    return { ...started, url: `http://127.0.0.1:${(started.http.address() as AddressInfo).port}` };
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    web = await startWebApp();
    a = await node();
    b = await node();
    // Both nodes subscribed: until then a broadcast from A would not reach B.
    await until(
      async () => (await a.io.of("/").adapter.serverCount()) === 2 && (await b.io.of("/").adapter.serverCount()) === 2,
    );
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await a?.close();
    await b?.close();
    await web?.close();
    await redis?.stop();
  });

  /** Logs a user in over HTTP and opens one socket per node given (websocket: no sticky sessions needed). */
  const user = (id: string, ...nodes: Array<{ url: string }>) => userOnNodes(web, id, nodes, sockets);

  const next = (socket: ClientSocket, event: string) => new Promise<unknown>((resolve) => socket.once(event, resolve));
  const acking = (socket: ClientSocket, event: string) =>
    socket.on(event, (_data: unknown, ack?: (value: string) => void) => ack?.("ok"));
  const client = () => createPushClient({ url: `${a.url}/push`, token: TOKEN });

  it("a push to node A reaches the user on node B", async () => {
    const alice = await user("alice", b);
    const arrived = next(alice.sockets[0]!, "order:shipped");
    expect(await client().send({ to: { user: "alice" }, event: "order:shipped", data: { id: 7 } })).toEqual({
      ok: true,
      id: expect.any(String),
    });
    expect(await arrived).toEqual({ id: 7 });
  });

  it("counts recipients and acks on both nodes", async () => {
    const bob = await user("bob", a, b, b);
    for (const socket of bob.sockets) acking(socket, "confirm");
    expect(await client().send({ to: { user: "bob" }, event: "confirm", ack: { timeout: 5000 } })).toEqual({
      ok: true,
      id: expect.any(String),
      recipients: 3,
      acked: 3,
      complete: true,
    });
    const silent = await user("bob", b); // a fourth tab that never acknowledges
    silent.sockets[0]!.on("confirm", () => {});
    expect(await a.push.send({ to: { user: "bob" }, event: "confirm", ack: { timeout: 500 } })).toMatchObject({
      recipients: 4,
      acked: 3,
      complete: false,
    });
    expect(await a.push.send({ to: { user: "nobody" }, event: "confirm", ack: { timeout: 5000 } })).toMatchObject({
      recipients: 0,
      acked: 0,
      complete: true,
    });
  });

  it("counts presence across both nodes", async () => {
    await user("carol", a, b, b);
    expect(await client().presence(["carol", "nobody"])).toEqual({ carol: 3, nobody: 0 });
  });

  it("makes sockets on node B join and leave rooms", async () => {
    const dave = await user("dave", b, a);
    for (const socket of dave.sockets) acking(socket, "room-news");
    await client().join({ to: { user: "dave" }, rooms: "project:7" });
    const count = async () =>
      (await a.push.send({ to: { room: "project:7" }, event: "room-news", ack: { timeout: 2000 } })).recipients;
    await expect.poll(count, { timeout: 5000 }).toBe(2);
    await client().leave({ to: { socket: dave.sockets[0]!.id! }, rooms: "project:7" });
    await expect.poll(count, { timeout: 5000 }).toBe(1);
  });

  it("disconnects the user's sockets on node B, through the session lifecycle (session:ended first)", async () => {
    const erin = await user("erin", b, b);
    const gone = erin.sockets.map((socket) => Promise.all([next(socket, "session:ended"), next(socket, "disconnect")]));
    expect(await client().disconnect({ to: { user: "erin" } })).toEqual({ ok: true });
    expect(await Promise.all(gone)).toEqual([
      [{ code: "UNAUTHENTICATED" }, "io server disconnect"],
      [{ code: "UNAUTHENTICATED" }, "io server disconnect"],
    ]);
    // A session by its id: SESSION_NOT_FOUND, on both nodes.
    const fay = await user("fay", a, b);
    const ended = fay.sockets.map((socket) => Promise.all([next(socket, "session:ended"), next(socket, "disconnect")]));
    expect(await client().disconnect({ to: { session: sessionIdOf(fay.cookie) } })).toEqual({ ok: true });
    expect(await Promise.all(ended)).toEqual([
      [{ code: "SESSION_NOT_FOUND" }, "io server disconnect"],
      [{ code: "SESSION_NOT_FOUND" }, "io server disconnect"],
    ]);
  });

  it("a retry that lands on the other node is answered from Redis, not sent twice", async () => {
    const gina = await user("gina", b);
    const received: unknown[] = [];
    gina.sockets[0]!.on("invoice", (data: unknown, ack?: (reply: string) => void) => {
      received.push(data);
      setTimeout(() => ack?.("ok"), 200); // still waiting for this ack when the retry arrives
    });
    const post = (url: string, body: unknown, key: string) =>
      fetch(`${url}/push`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));
    const message = { to: { user: "gina" }, event: "invoice", data: { n: 1 } };
    const first = await post(a.url, message, "invoice-1");
    expect(first).toEqual({ status: 202, body: { ok: true, id: "invoice-1" } });
    expect(await post(b.url, message, "invoice-1")).toEqual(first);
    // With acks, the retry on B arrives while A still waits: it gets A's answer when A has it.
    const acked = { ...message, data: { n: 2 }, ack: { timeout: 3000 } };
    const [onA, onB] = await Promise.all([post(a.url, acked, "invoice-2"), post(b.url, acked, "invoice-2")]);
    expect(onA).toEqual({ status: 200, body: { ok: true, id: "invoice-2", recipients: 1, acked: 1, complete: true } });
    expect(onB).toEqual(onA);
    // The same key for another message, on either node: 422, nothing sent.
    const reused = await post(b.url, { ...message, data: { n: 3 } }, "invoice-1");
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_KEY_REUSED" } });
    const marker = next(gina.sockets[0]!, "invoice");
    await a.push.send({ to: { user: "gina" }, event: "invoice", data: "marker" });
    await marker;
    expect(received).toEqual([{ n: 1 }, { n: 2 }, "marker"]);
  });

  it("a process without socket.io pushes fire-and-forget through @socket.io/redis-emitter", async () => {
    const frank = await user("frank", a, b);
    const sid = sessionIdOf(frank.cookie);
    const worker = createWorkerPush(redis.url);
    try {
      const both = frank.sockets.map((socket) => next(socket, "report:ready"));
      worker.toUser("frank", "report:ready", { report: 1 });
      expect(await Promise.all(both)).toEqual([{ report: 1 }, { report: 1 }]);
      const bySession = frank.sockets.map((socket) => next(socket, "session:note"));
      worker.toSession(sid, "session:note", "hi");
      expect(await Promise.all(bySession)).toEqual(["hi", "hi"]);
      const gone = frank.sockets.map((socket) => new Promise<string>((resolve) => socket.once("disconnect", resolve)));
      worker.logoutEverywhere("frank");
      expect(await Promise.all(gone)).toEqual(["io server disconnect", "io server disconnect"]);
    } finally {
      await worker.close();
    }
  });
});
