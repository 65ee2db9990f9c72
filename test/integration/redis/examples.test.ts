import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { io as ioClient, type Socket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { connectWithRetry } from "../../../docs/examples/redis-client-retry.js";
import { createNode } from "../../../docs/examples/redis-nodes.js";
import { createRealtimeServer } from "../../../docs/examples/redis-realtime.js";
import { createWebApp } from "../../../docs/examples/redis-web-app.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";

// Runs the snippets of docs/redis.md: the web app and the socket.io server as two separate servers that
// share only Redis, several socket.io nodes on one Redis, and the client's retry while Redis does not answer.

const available = redisServerAvailable();
const examples = ["redis-web-app", "redis-realtime", "redis-nodes", "redis-client-retry", "redis-keyspace"] as const;

async function listen(http: HttpServer): Promise<string> {
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

function firstEvent<T>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.once(event, resolve);
    socket.once("connect_error", reject);
  });
}

describe.skipIf(!available)("docs/examples/redis-*.ts", () => {
  let redis: RedisServer;
  let webUrl: string;
  const cleanup: Array<() => unknown> = [];
  const sockets: Socket[] = [];

  const login = async (id: number): Promise<string> => {
    const res = await fetch(`${webUrl}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id }),
    });
    expect(res.status).toBe(204);
    return res.headers.getSetCookie()[0]!.split(";")[0]!;
  };
  const client = (url: string, cookie: string, options: Parameters<typeof ioClient>[1] = {}) => {
    const socket = ioClient(url, { extraHeaders: { cookie }, reconnection: false, forceNew: true, ...options });
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    const web = await createWebApp(redis.url);
    const http = web.app.listen(0, "127.0.0.1");
    await once(http, "listening");
    webUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    cleanup.push(
      () => new Promise((resolve) => http.close(resolve)),
      () => web.redis.destroy(),
      () => redis.stop(),
    );
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    for (const close of cleanup.splice(0)) await close();
  });

  it("the web app and the socket.io server share only Redis", async () => {
    const realtime = await createRealtimeServer(redis.url);
    cleanup.unshift(
      () => realtime.io.close(),
      () => realtime.redis.disconnect(),
    );
    const url = await listen(realtime.http);
    const cookie = await login(42);
    const tab = client(url, cookie);
    expect(await firstEvent(tab, "hello")).toBe("you are 42");

    await fetch(`${webUrl}/logout`, { method: "POST", headers: { cookie } });
    tab.close(); // the page reloads after its logout
    // The tab's socket is gone from the server first: while a socket of the session is still connected
    // there, a new tab within sharedReadMaxAge (5 s) joins its last read (this server has no keyspace
    // subscriber to hear the logout; docs/redis.md says so).
    await vi.waitFor(() => expect(realtime.io.engine.clientsCount).toBe(0));
    const refused = await firstEvent<never>(client(url, cookie), "connect").catch(
      (err: Error & { data?: unknown }) => err,
    );
    expect(refused).toMatchObject({
      message: "SESSION_NOT_FOUND",
      data: { code: "SESSION_NOT_FOUND", retryable: false },
    });
  });

  it("a user's sockets on two nodes get what any node sends to that user", async () => {
    const [a, b] = await Promise.all([createNode(redis.url), createNode(redis.url)]);
    cleanup.unshift(a.close, b.close);
    const [urlA, urlB] = [await listen(a.http), await listen(b.http)];
    const cookie = await login(7);
    const onA = client(urlA, cookie);
    const onB = client(urlB, cookie);
    await Promise.all([firstEvent(onA, "connect"), firstEvent(onB, "connect")]);
    const received = Promise.all([firstEvent(onA, "note"), firstEvent(onB, "note")]);
    // The adapter subscribes asynchronously: send until both have it (bounded).
    let done = false;
    void received.then(() => (done = true));
    for (let attempt = 0; attempt < 50 && !done; attempt++) {
      b.notify("7", "note", { order: 1 });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await received).toEqual([{ order: 1 }, { order: 1 }]);
  });

  it("the client retries a STORE_UNAVAILABLE refusal and gets in once Redis answers again", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const realtime = await createRealtimeServer(redis.url);
      cleanup.unshift(
        () => realtime.io.close(),
        () => realtime.redis.disconnect(),
      );
      const url = await listen(realtime.http);
      const cookie = await login(9);
      // Redis stops answering for 1.5 s (the example's lookup timeout is 1 s), then serves again, session intact.
      expect(await redis.command("CLIENT", "PAUSE", "1500", "ALL")).toBe("+OK\r\n");
      const socket = connectWithRetry(url, {
        retryDelayMs: 200,
        maxRetries: 20,
        extraHeaders: { cookie },
        forceNew: true,
        reconnection: false,
      });
      sockets.push(socket);
      const refusals: unknown[] = [];
      socket.on("connect_error", (err: Error & { data?: unknown }) => refusals.push(err.data));
      expect(await new Promise((resolve) => socket.once("hello", resolve))).toBe("you are 9");
      expect(refusals.length).toBeGreaterThan(0);
      expect(
        refusals.every(
          (data) => JSON.stringify(data) === JSON.stringify({ code: "STORE_UNAVAILABLE", retryable: true }),
        ),
      ).toBe(true);
      expect(warn.mock.calls.some(([first]) => String(first).includes("session lookup failed"))).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });

  it("redis-setup.ts: the one-line setup lets a logged-in socket in", async () => {
    const { useRedisSessions } = await import("../../../docs/examples/redis-setup.js");
    const { Redis } = await import("ioredis");
    const { Server } = await import("socket.io");
    const { createServer } = await import("node:http");
    const connection = new Redis(redis.url);
    const http = createServer();
    const io = new Server(http);
    cleanup.unshift(
      () => io.close(),
      () => connection.disconnect(),
    );
    useRedisSessions(io, connection, process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET");
    io.on("connection", (socket) => socket.emit("hello", `you are ${socket.data.userId}`));
    const url = await listen(http);
    expect(await firstEvent(client(url, await login(11)), "hello")).toBe("you are 11");
  });

  it("redis-keyspace.ts: logout over HTTP calls the store's subscribers back with the session", async () => {
    const { createKeyspaceServer } = await import("../../../docs/examples/redis-keyspace.js");
    await redis.command("CONFIG", "SET", "notify-keyspace-events", "Egxe");
    const { client, subscriber, store, io } = await createKeyspaceServer(redis.url);
    cleanup.unshift(
      () => io.close(),
      () => store.close!(),
      () => client.disconnect(),
      () => subscriber.disconnect(),
    );
    const ended: Array<[string, string | undefined]> = [];
    store.subscribe!((id, reason) => void ended.push([id, reason]));
    const cookie = await login(12);
    const id = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1))
      .slice(2)
      .split(".")[0]!;
    // The subscription is live once a deletion is heard; log out until then (each login is a new session).
    const deadline = Date.now() + 10_000;
    let current = { cookie, id };
    while (!ended.some(([ended]) => ended === current.id)) {
      await fetch(`${webUrl}/logout`, { method: "POST", headers: { cookie: current.cookie } });
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (ended.some(([ended]) => ended === current.id) || Date.now() > deadline) break;
      const next = await login(12);
      current = {
        cookie: next,
        id: decodeURIComponent(next.slice(next.indexOf("=") + 1))
          .slice(2)
          .split(".")[0]!,
      };
    }
    expect(ended).toContainEqual([current.id, "destroyed"]);
  });

  it.each([...examples, "redis-setup"])("docs/redis.md includes the region of %s.ts, and the region exists", (name) => {
    const lines = readFileSync(new URL(`../../../docs/examples/${name}.ts`, import.meta.url), "utf8")
      .split("\n")
      .map((line) => line.trim());
    const region = name.replace("redis-", "");
    const start = lines.indexOf(`// #region ${region}`);
    expect(start, `${name}.ts has "// #region ${region}"`).toBeGreaterThanOrEqual(0);
    expect(
      lines.indexOf(`// #endregion ${region}`) - start,
      `${name}.ts closes the region, with lines in it`,
    ).toBeGreaterThan(1);
    const page = readFileSync(new URL("../../../docs/redis.md", import.meta.url), "utf8");
    expect(page).toContain(`<<< @/examples/${name}.ts#${region}\n`);
  });
});
