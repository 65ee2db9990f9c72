import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, type HandshakeInfo, type SessionStore } from "socket.io-session-auth";
import { connect, startRealtime } from "../../support/realtime.js";

// Found by a second read of the issue 22 work: each sessionAuth must keep its own per-socket state, and a
// request target that WHATWG URL rejects must not hang authenticate().

/** A store that answers every id with a session of its own and counts the reads per id. */
function countingStore(name: string) {
  const reads = new Map<string, number>();
  const store: SessionStore = {
    name,
    get: async (id) => {
      reads.set(id, (reads.get(id) ?? 0) + 1);
      return { session: { userId: `user-${id}` } };
    },
  };
  return { store, reads };
}

const opened: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

describe("two sessionAuth on one namespace", () => {
  it("each follows its own sessions: a disconnect untracks only its own, the others keep being re-read", async () => {
    const a = countingStore("a");
    const b = countingStore("b");
    const common = { signing: "none", revalidate: 100, sharedReadMaxAge: false, rooms: false } as const;
    const authA = sessionAuth({ ...common, store: a.store, name: "a.sid" });
    const authB = sessionAuth({ ...common, store: b.store, name: "b.sid" });
    const realtime = await startRealtime((io) => {
      io.use(authA);
      io.use(authB);
    });
    opened.push(
      () => realtime.close(),
      () => authA.close(),
      () => authB.close(),
    );
    const clients: Awaited<ReturnType<typeof connect>>[] = [];
    for (let i = 0; i < 4; i++) {
      clients.push(await connect(realtime.url, { cookie: `a.sid=a${i}; b.sid=b${i}`, transports: ["websocket"] }));
    }
    opened.push(() => clients.forEach((client) => client.close()));
    clients[0]!.close();
    clients[2]!.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = (reads: Map<string, number>) => new Map(reads);
    const [a0, b0] = [before(a.reads), before(b.reads)];
    await new Promise((resolve) => setTimeout(resolve, 800));
    const since = (reads: Map<string, number>, then: Map<string, number>, id: string) =>
      (reads.get(id) ?? 0) - (then.get(id) ?? 0);
    for (const [store, then, prefix] of [
      [a.reads, a0, "a"],
      [b.reads, b0, "b"],
    ] as const) {
      expect(since(store, then, `${prefix}0`)).toBe(0); // disconnected: no longer followed
      expect(since(store, then, `${prefix}2`)).toBe(0);
      expect(since(store, then, `${prefix}1`)).toBeGreaterThanOrEqual(3); // connected: re-read every 100 ms
      expect(since(store, then, `${prefix}3`)).toBeGreaterThanOrEqual(3);
    }
  });
});

describe("authenticate() with a request target WHATWG URL rejects", () => {
  it("runs authorize with an empty query instead of hanging", async () => {
    const { store } = countingStore("memory-like");
    const seen: HandshakeInfo[] = [];
    const auth = sessionAuth({
      store,
      signing: "none",
      authorize: ({ handshake }) => (seen.push(handshake), true),
    });
    opened.push(() => auth.close());
    // Node's HTTP server accepts this target; `new URL("//x:99999", base)` throws (port out of range).
    const req = { url: "//x:99999", headers: { cookie: "connect.sid=abc" }, socket: {} } as unknown as IncomingMessage;
    const result = await auth.authenticate(req);
    expect(result.userId).toBe("user-abc");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.query).toEqual({});
    expect(seen[0]!.url).toBe("//x:99999");
  });
});
