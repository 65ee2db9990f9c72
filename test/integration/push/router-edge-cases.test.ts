// Cases found by a second read of the push router: namespaces made after the router, shutdown while a
// body is still arriving, message ids a header cannot carry, and depth limits behind express.json().
import { once } from "node:events";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { createPushRouter } from "socket.io-session-auth/push";
import { createPushClient } from "socket.io-session-auth/push-client";
import { connect, refusal, startRealtime } from "../../support/realtime.js";
import { startWebApp } from "../../support/web-app.js";

const SECRET = "keyboard cat";
const TOKEN = "push-token-0123456789abcdef";
const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

async function world() {
  const web = await startWebApp();
  opened.push(web);
  const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
  return { web, auth };
}

describe("namespaces the app sets up after the router", () => {
  it("a child of a dynamic namespace keeps its parent's middleware, and receives pushes", async () => {
    const { web, auth } = await world();
    let push!: ReturnType<typeof createPushRouter>;
    const realtime = await startRealtime((io) => {
      io.use(auth);
      // The router first, the dynamic parent (with its middleware) after it.
      push = createPushRouter(io, { tokens: TOKEN, auth, namespaces: ["/", "/chat-1"] });
      io.of(/^\/chat-\d+$/).use(auth);
    });
    opened.push(realtime, push);
    expect((await refusal(realtime.url, { namespace: "/chat-1" })).message).toBe("NO_SESSION_COOKIE");
    const socket = await connect(realtime.url, { namespace: "/chat-1", cookie: await web.login({ id: 3 }) });
    opened.push(socket);
    const got = new Promise((resolve) => socket.once("news", resolve));
    await push.send({ to: { user: "3" }, namespace: "/chat-1", event: "news", data: 1 });
    expect(await got).toBe(1);
  });
});

describe("close() while a body is still arriving", () => {
  it("refuses that request with SHUTTING_DOWN and emits nothing", async () => {
    const { auth } = await world();
    let push!: ReturnType<typeof createPushRouter>;
    const realtime = await startRealtime((io) => {
      io.use(auth);
      push = createPushRouter(io, { tokens: TOKEN, auth });
    });
    push.attach(realtime.http);
    opened.push(realtime);
    const { port } = realtime.http.address() as AddressInfo;
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/push",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        },
        (res) => {
          let body = "";
          res.on("data", (chunk) => (body += chunk));
          res.on("end", () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on("error", reject);
      req.write('{"to":{"all":true},');
      // The rest arrives after close() has begun.
      setTimeout(async () => {
        await push.close();
        req.end('"event":"late","data":1}');
      }, 100);
    });
    const { status, body } = await answer;
    expect(status).toBe(503);
    expect(JSON.parse(body).error.code).toBe("SHUTTING_DOWN");
  });
});

describe("the Node client and message ids", () => {
  it("sends a message whose id no header could carry, once, de-duplicated by the id", async () => {
    const { web, auth } = await world();
    let push!: ReturnType<typeof createPushRouter>;
    const realtime = await startRealtime((io) => {
      io.use(auth);
      push = createPushRouter(io, { tokens: TOKEN, auth });
    });
    push.attach(realtime.http);
    opened.push(realtime, push);
    const socket = await connect(realtime.url, { cookie: await web.login({ id: 5 }) });
    opened.push(socket);
    const received: unknown[] = [];
    socket.on("message", (data) => received.push(data));
    const client = createPushClient({ url: `${realtime.url}/push`, token: TOKEN });
    for (const id of ["order 7 shipped", "commande-é", "注文-7"]) {
      const first = await client.send({ id, to: { user: "5" }, data: id });
      const again = await client.send({ id, to: { user: "5" }, data: id });
      expect(again).toEqual(first);
    }
    await client.send({ to: { socket: socket.id! }, data: "flush" });
    await new Promise<void>((resolve) =>
      received.includes("flush") ? resolve() : socket.on("message", (d) => d === "flush" && resolve()),
    );
    expect(received).toEqual(["order 7 shipped", "commande-é", "注文-7", "flush"]);
  });
});

describe("behind express.json()", () => {
  it("still refuses JSON nested deeper than the limit", async () => {
    const { auth } = await world();
    const http = createServer();
    const realtime = await startRealtime((io) => void io.use(auth));
    opened.push(realtime);
    const push = createPushRouter(realtime.io, { tokens: TOKEN, auth });
    opened.push(push);
    const app = express();
    app.use(express.json({ limit: "1mb" }));
    app.use("/", push.handler);
    http.on("request", app);
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    opened.push({ close: () => new Promise((resolve) => http.close(resolve)) });
    const deep = JSON.parse(`${"[".repeat(200)}1${"]".repeat(200)}`);
    const res = await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/push`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ to: { all: true }, data: deep }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("BAD_JSON");
  });
});
