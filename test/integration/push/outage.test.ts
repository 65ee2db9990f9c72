// Issue 14, items 2 and 4: two real socket.io nodes over @socket.io/redis-adapter and a real redis-server
// that is stopped mid-run. Cluster-wide answers have deadlines of their own and never pass a count from
// fewer nodes for a complete one; idempotency keys live in Redis (ioredis on node A, node-redis on node B)
// and a Redis that does not answer is a 503 with nothing sent, never a false "ok" nor a double send.
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { Server, type Namespace } from "socket.io";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { createPushRouter, type PushRouter, type PushRouterOptions } from "socket.io-session-auth/push";
import { eventually } from "../../support/eventually.js";
import { connect, startRealtime, type Realtime } from "../../support/realtime.js";
import {
  quitRedisClients,
  redisServerAvailable,
  startRedisServer,
  type RedisServer,
} from "../../support/redis-server.js";
import { startWebApp, type WebApp } from "../../support/web-app.js";

const SECRET = "keyboard cat";
const TOKEN = "outage-token-0123456789abcdef";
const CLUSTER_TIMEOUT = 600;
const STORE_TIMEOUT = 300;

interface Node {
  url: string;
  io: Server;
  push: PushRouter;
  close(): Promise<void>;
}

async function post(node: Node, route: string, body: unknown, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await fetch(`${node.url}/push${route}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & { error?: { code: string } },
    ms: performance.now() - started,
  };
}

describe.skipIf(!redisServerAvailable())("push router while Redis fails (two nodes)", () => {
  let redis: RedisServer;
  let web: WebApp;
  let a: Node;
  let b: Node;
  const sockets: ClientSocket[] = [];
  const received = { five: [] as unknown[], six: [] as unknown[] };

  async function node(idempotency: "ioredis" | "node-redis"): Promise<Node> {
    const pub = new Redis(redis.url);
    const sub = pub.duplicate();
    // ioredis logs an 'error' event nobody listens to; node-redis would throw it. Outages are expected here.
    for (const client of [pub, sub]) client.on("error", () => {});
    let store: PushRouterOptions["idempotency"];
    let extra: { close(): Promise<unknown> } | undefined;
    if (idempotency === "ioredis") store = { redis: pub, timeout: STORE_TIMEOUT };
    else {
      const client = createClient({ url: redis.url });
      client.on("error", () => {});
      await client.connect();
      store = { redis: client, timeout: STORE_TIMEOUT };
      extra = { close: () => client.destroy() as unknown as Promise<unknown> };
    }
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
    let push!: PushRouter;
    const realtime: Realtime = await startRealtime(
      (io) => {
        io.use(auth);
        push = createPushRouter(io, { tokens: TOKEN, auth, idempotency: store, clusterTimeout: CLUSTER_TIMEOUT });
      },
      { adapter: createAdapter(pub, sub) },
    );
    push.attach(realtime.http);
    return {
      url: realtime.url,
      io: realtime.io,
      push,
      async close() {
        await push.close();
        await realtime.close();
        await extra?.close();
        await quitRedisClients([pub, sub]);
      },
    };
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    web = await startWebApp();
    a = await node("ioredis");
    b = await node("node-redis");
    await eventually(
      async () =>
        expect([await a.io.of("/").adapter.serverCount(), await b.io.of("/").adapter.serverCount()]).toEqual([2, 2]),
      10_000,
    );
    const five = await connect(a.url, { cookie: await web.login({ id: 5 }), transports: ["websocket"] });
    const six = await connect(b.url, { cookie: await web.login({ id: 6 }), transports: ["websocket"] });
    sockets.push(five, six);
    five.on("note", (data: unknown, ack?: () => void) => (received.five.push(data), ack?.()));
    six.on("note", (data: unknown, ack?: () => void) => (received.six.push(data), ack?.()));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await a?.close();
    await b?.close();
    await web?.close();
    await redis?.stop();
  });

  it("before the outage: presence counts both nodes, and a retry on the other node (the other client kind) is answered, not sent", async () => {
    expect(await post(a, "/presence", { users: ["5", "6"] })).toMatchObject({
      status: 200,
      body: { ok: true, users: { 5: 1, 6: 1 } },
    });
    const first = await post(
      a,
      "",
      { to: { user: "6" }, event: "note", data: "once" },
      { "idempotency-key": "before-1" },
    );
    expect(first).toMatchObject({ status: 202, body: { ok: true, id: "before-1" } });
    expect(
      await post(b, "", { to: { user: "6" }, event: "note", data: "once" }, { "idempotency-key": "before-1" }),
    ).toMatchObject({ status: 202, body: first.body });
    expect(
      (await post(b, "", { to: { user: "5" }, event: "note", data: "other" }, { "idempotency-key": "before-1" })).body
        .error?.code,
    ).toBe("IDEMPOTENCY_KEY_REUSED");
    // A batch and its items: the retry on the other node gets the batch's answer; an item's id is
    // remembered for a single message too.
    const batch = {
      messages: [
        { id: "item-1", to: { user: "6" }, event: "note", data: "item 1" },
        { to: { user: "6" }, event: "note", data: "item 2" },
      ],
    };
    const firstBatch = await post(b, "/batch", batch, { "idempotency-key": "batch-1" });
    expect(firstBatch.status).toBe(200);
    expect(await post(a, "/batch", batch, { "idempotency-key": "batch-1" })).toMatchObject({
      status: 200,
      body: firstBatch.body,
    });
    expect(await post(a, "", batch.messages[0]!)).toMatchObject({ status: 202, body: { ok: true, id: "item-1" } });
    await expect.poll(() => received.six, { timeout: 5000 }).toEqual(["once", "item 1", "item 2"]);
    const marker = await post(a, "", { to: { user: "6" }, event: "note", data: "marker" });
    expect(marker.status).toBe(202);
    await expect.poll(() => received.six, { timeout: 5000 }).toEqual(["once", "item 1", "item 2", "marker"]);
  });

  it("while Redis is down: presence is 503 within its deadline, a keyed push is 503 and sends nothing, acks say incomplete", async () => {
    await redis.stop();
    const presence = await post(a, "/presence", { users: ["5", "6"] });
    expect(presence.status).toBe(503);
    expect(presence.body.error?.code).toBe("ADAPTER_UNAVAILABLE");
    expect(presence.ms).toBeLessThan(CLUSTER_TIMEOUT + 1500);

    for (const target of [a, b]) {
      const keyed = await post(
        target,
        "",
        { to: { user: "5" }, event: "note", data: "during outage" },
        { "idempotency-key": `outage-${target === a ? "a" : "b"}` },
      );
      expect(keyed.status).toBe(503);
      expect(keyed.body.error?.code).toBe("IDEMPOTENCY_UNAVAILABLE");
      expect(keyed.ms).toBeLessThan(STORE_TIMEOUT + 1500);
    }

    const acked = await post(a, "", {
      to: { user: ["5", "6"] },
      event: "note",
      data: "acked during outage",
      ack: { timeout: 500 },
    });
    expect(acked.status).toBe(200);
    // User 5 is on A and acknowledges; node B cannot be heard: not complete.
    expect(acked.body).toMatchObject({ ok: true, recipients: 1, acked: 1, complete: false });
  });

  it("after Redis is back: no 200 from fewer nodes than exist, then full answers and keyed pushes again", async () => {
    await redis.start();
    const seen: Array<{ status: number; users?: unknown }> = [];
    const acks: Array<Record<string, unknown>> = [];
    await eventually(async () => {
      const [answer, acked] = await Promise.all([
        post(a, "/presence", { users: ["5", "6"] }),
        post(a, "", { to: { user: ["5", "6"] }, event: "note", data: "acked after", ack: { timeout: 400 } }),
      ]);
      seen.push({ status: answer.status, users: answer.body.users });
      acks.push(acked.body);
      expect(answer.status).toBe(200);
    }, 15_000);
    // An acked send in the same window is complete only when both nodes answered.
    for (const body of acks) if (body.complete === true) expect(body).toMatchObject({ recipients: 2, acked: 2 });
    // Every answer during the recovery was a 503 or a count from both nodes: never { 5: 1, 6: 0 }.
    for (const answer of seen) {
      if (answer.status === 200) expect(answer.users).toEqual({ 5: 1, 6: 1 });
      else expect(answer.status).toBe(503);
    }
    const again = await eventually(async () => {
      const answer = await post(
        b,
        "",
        { to: { user: "5" }, event: "note", data: "after" },
        { "idempotency-key": "after-1" },
      );
      expect(answer.status).toBe(202);
      return answer;
    }, 10_000);
    expect(again.body).toEqual({ ok: true, id: "after-1" });
    expect(
      (await post(a, "", { to: { user: "5" }, event: "note", data: "after" }, { "idempotency-key": "after-1" })).body,
    ).toEqual(again.body);
    await expect.poll(() => received.five.filter((data) => data === "after").length, { timeout: 5000 }).toBe(1);
    // The pushes refused with 503 during the outage were never sent, not even once Redis came back...
    expect(received.five).not.toContain("during outage");
    // ...and their keys were not taken: the sender's retry with the same key is sent, once.
    for (const [node, key] of [
      [a, "outage-a"],
      [b, "outage-b"],
    ] as const) {
      expect(
        await post(node, "", { to: { user: "5" }, event: "note", data: "during outage" }, { "idempotency-key": key }),
      ).toMatchObject({ status: 202, body: { id: key } });
    }
    await expect.poll(() => received.five.filter((data) => data === "during outage").length, { timeout: 5000 }).toBe(2);
    await eventually(async () => {
      const acked = await post(a, "", {
        to: { user: ["5", "6"] },
        event: "note",
        data: "acked after",
        ack: { timeout: 400 },
      });
      expect(acked.body).toMatchObject({ recipients: 2, acked: 2, complete: true });
    }, 10_000);
  });
});

describe("presence deadline", () => {
  let realtime: Realtime | undefined;
  afterAll(async () => {
    await realtime?.close();
  });

  it("is 5000 ms by default: an adapter that never answers gets a 503 ADAPTER_UNAVAILABLE then, not a hang", async () => {
    let push!: PushRouter;
    // socket.io's in-memory adapter, but its serverCount() waits forever, as a Redis command does in a
    // client's offline queue while Redis is down.
    const Base = new Server().of("/").adapter.constructor as new (nsp: Namespace) => Namespace["adapter"];
    class Stalled extends Base {
      override serverCount(): Promise<number> {
        return new Promise(() => {});
      }
    }
    realtime = await startRealtime(
      (io) => {
        push = createPushRouter(io, { tokens: TOKEN });
      },
      { adapter: Stalled as never },
    );
    push.attach(realtime.http);
    const answer = await post({ url: realtime.url } as Node, "/presence", { users: ["1"] });
    expect(answer.status).toBe(503);
    expect(answer.body.error?.code).toBe("ADAPTER_UNAVAILABLE");
    expect(answer.ms).toBeGreaterThanOrEqual(4900);
    expect(answer.ms).toBeLessThan(7000);
    await push.close();
  }, 15_000);
});
