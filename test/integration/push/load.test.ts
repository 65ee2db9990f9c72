import { Agent, request } from "node:http";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { createPushRouter, type PushRouter } from "socket.io-session-auth/push";
import { connect, startRealtime, type Realtime } from "../../support/realtime.js";
import { startWebApp, type WebApp } from "../../support/web-app.js";

// Bounded load: 10,000 pushes over HTTP (keep-alive, 32 in flight) to 200 real sockets of 100 logged-in
// users on loopback. Every socket counts what it got: nothing lost, nothing duplicated, a socket matched
// by several targets gets a push once, repeated Idempotency-Keys deliver nothing, and the heap comes back.

const SECRET = "keyboard cat";
const TOKEN = "load-token-0123456789abcdef";
const USERS = 100;
const TABS = 2;
const PUSHES = 10_000;
const IN_FLIGHT = 32;
const KEYED = 2000; // pushes sent with an Idempotency-Key (the cache holds at most 500)
const REPLAYED = 100; // the last keyed pushes, sent again: must deliver nothing

interface Tab {
  user: number;
  socket: ClientSocket;
  even: boolean;
  got: number[];
}

describe("push router under load (bounded)", () => {
  let web: WebApp;
  let realtime: Realtime;
  let push: PushRouter;
  const tabs: Tab[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const gc = (globalThis as { gc?: () => void }).gc;

  beforeAll(async () => {
    web = await startWebApp();
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
    realtime = await startRealtime((io) => io.use(auth));
    push = createPushRouter(realtime.io, { tokens: TOKEN, auth, idempotency: { maxKeys: 500 } });
    push.attach(realtime.http);
    const cookies = await Promise.all(Array.from({ length: USERS }, (_, user) => web.login({ id: user })));
    for (let user = 0; user < USERS; user++) {
      const sockets = await Promise.all(
        Array.from({ length: TABS }, () =>
          connect(realtime.url, { cookie: cookies[user]!, transports: ["websocket"] }),
        ),
      );
      sockets.forEach((socket, index) => {
        const tab: Tab = { user, socket, even: index === 0, got: [] };
        socket.on("load", (seq: number) => tab.got.push(seq));
        tabs.push(tab);
      });
    }
    // Every first tab joins "even", through the router itself.
    const firstTabs = tabs.filter((tab) => tab.even).map((tab) => tab.socket.id!);
    for (let i = 0; i < firstTabs.length; i += 50) {
      const res = await post("/push/rooms/join", { to: { socket: firstTabs.slice(i, i + 50) }, rooms: "even" });
      expect(res.status).toBe(202);
    }
  }, 60_000);

  afterAll(async () => {
    for (const tab of tabs) tab.socket.close();
    agent.destroy();
    await push?.close();
    await realtime?.close();
    await web?.close();
  });

  function post(path: string, body: unknown, key?: string): Promise<{ status: number; body: string }> {
    const payload = JSON.stringify(body);
    const url = new URL(realtime.url);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path,
          method: "POST",
          headers: {
            authorization: `Bearer ${TOKEN}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(payload),
            ...(key === undefined ? {} : { "idempotency-key": key }),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Push `seq`: to one user, to two users and the "even" room (overlapping), or to all but one user. */
  function plan(seq: number): { body: unknown; reaches: (tab: Tab) => boolean } {
    const user = seq % USERS;
    if (seq % 20 === 7) {
      const other = (user + 1) % USERS;
      return {
        body: { to: { user: [user, other], room: "even" }, event: "load", data: seq },
        reaches: (tab) => tab.user === user || tab.user === other || tab.even,
      };
    }
    if (seq % 100 === 99) {
      return {
        body: { to: { all: true }, except: { user }, event: "load", data: seq },
        reaches: (tab) => tab.user !== user,
      };
    }
    return { body: { to: { user }, event: "load", data: seq }, reaches: (tab) => tab.user === user };
  }

  it(`delivers ${PUSHES} pushes to ${USERS * TABS} sockets exactly once each, and the heap comes back`, async ({
    annotate,
  }) => {
    gc?.();
    const baseline = process.memoryUsage().heapUsed;
    const started = performance.now();
    let next = 0;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (next < PUSHES) {
        const seq = next++;
        const key = seq >= PUSHES - KEYED ? `load-${seq}` : undefined;
        const res = await post("/push", plan(seq).body, key);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    // The same keys again (still within the cache's 500): answered from memory, delivered never.
    for (let seq = PUSHES - REPLAYED; seq < PUSHES; seq++) {
      const res = await post("/push", plan(seq).body, `load-${seq}`);
      expect(JSON.parse(res.body)).toEqual({ ok: true, id: `load-${seq}` });
    }
    const sent = performance.now() - started;
    expect(Object.fromEntries(statuses)).toEqual({ 202: PUSHES });

    const expected = new Map<Tab, number>(tabs.map((tab) => [tab, 0]));
    for (let seq = 0; seq < PUSHES; seq++) {
      const { reaches } = plan(seq);
      for (const tab of tabs) if (reaches(tab)) expected.set(tab, expected.get(tab)! + 1);
    }
    const total = [...expected.values()].reduce((sum, n) => sum + n, 0);
    const deadline = Date.now() + 30_000;
    while (tabs.reduce((sum, tab) => sum + tab.got.length, 0) < total && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A beat for any duplicate still in flight to land and be caught below.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const delivered = performance.now() - started;
    for (const tab of tabs) {
      const unique = new Set(tab.got);
      expect(tab.got.length, `tab of user ${tab.user}: duplicates`).toBe(unique.size);
      expect(unique.size, `tab of user ${tab.user}: lost`).toBe(expected.get(tab));
      for (const seq of unique) expect(plan(seq).reaches(tab)).toBe(true);
    }

    for (const tab of tabs) tab.got.length = 0;
    gc?.();
    const after = process.memoryUsage().heapUsed;
    const growth = after - baseline;
    // A measurement, kept with the test's result (reporters show annotations; a green run prints nothing).
    await annotate(
      `push load: ${PUSHES} pushes sent in ${sent.toFixed(0)} ms (${((PUSHES / sent) * 1000).toFixed(0)}/s), ${total} deliveries done in ${delivered.toFixed(0)} ms; heap ${(baseline / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB${gc ? " (after gc)" : " (no gc exposed)"}`,
      "measurement",
    );
    // With gc exposed the heap is back within a few MiB; without it, garbage may not be collected yet,
    // so the bound only catches a real leak (10,000 kept messages and their buffers would exceed it).
    expect(growth).toBeLessThan((gc ? 16 : 96) * 2 ** 20);
  }, 90_000);
});
