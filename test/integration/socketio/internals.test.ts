import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { Server, type Socket } from "socket.io";
import { io as connect, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  afterWritten,
  countingAdapter,
  emitToOtherNodes,
  emitToOtherNodesWithAck,
  hasOtherNodes,
  linkLooksDown,
  onOtherNodes,
  operatorClass,
  requestTimeoutOf,
  RESERVED_EVENTS,
  serverSetup,
  transportOf,
} from "../../../src/internal/socketio.js";

// Every reach of the package into socket.io beyond its typed API (src/internal/socketio.ts), exercised
// against the installed socket.io. A socket.io upgrade that breaks one fails here, by name.

const installed = (createRequire(import.meta.url)("socket.io/package.json") as { version: string }).version;

it("runs against the socket.io these reaches were written for (4.8.x)", () => {
  // When this fails, socket.io was upgraded: read src/internal/socketio.ts against its source, then move the pin.
  expect(installed).toMatch(/^4\.8\./);
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(options: ConstructorParameters<typeof Server>[1] = {}) {
  const http: HttpServer = createServer();
  const io = new Server(http, options);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => io.close(() => resolve(undefined))));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const client = async (): Promise<{ client: ClientSocket; socket: Socket }> => {
    const connected = new Promise<Socket>((resolve) => io.once("connection", resolve));
    const client = connect(url, { transports: ["websocket"], reconnection: false });
    cleanups.push(() => client.disconnect());
    return { client, socket: await connected };
  };
  return { io, client, url };
}

describe("RESERVED_EVENTS", () => {
  it("holds every name socket.io refuses to emit, plus error", async () => {
    const { client } = await serve();
    const { socket } = await client();
    for (const name of RESERVED_EVENTS) {
      if (name === "error") continue;
      expect(() => socket.emit(name as never), name).toThrow(/reserved event name/);
    }
    expect(RESERVED_EVENTS.has("error")).toBe(true);
  });
});

describe("serverSetup", () => {
  it("reads connectionStateRecovery from _opts and the engine's options", async () => {
    const allowRequest = (_req: unknown, callback: (err: null, ok: boolean) => void) => callback(null, true);
    const { io } = await serve({
      connectionStateRecovery: { skipMiddlewares: false },
      allowRequest,
      transports: ["websocket"],
      cors: { origin: ["http://a.test"], credentials: true },
    });
    const setup = serverSetup(io);
    expect(setup.recovery?.skipMiddlewares).toBe(false);
    expect(setup.engine?.allowRequest).toBe(allowRequest);
    expect(setup.engine?.transports).toEqual(["websocket"]);
    expect(setup.engine?.cors).toEqual({ origin: ["http://a.test"], credentials: true });
    const plain = await serve();
    expect(serverSetup(plain.io).recovery).toBeUndefined();
  });
});

describe("hasOtherNodes, emitToOtherNodes, onOtherNodes", () => {
  it("tells socket.io's own adapters from a cluster adapter by the class defining serverSideEmit", async () => {
    const single = await serve();
    expect(hasOtherNodes(single.io.of("/").adapter)).toBe(false);
    const recovering = await serve({ connectionStateRecovery: {} });
    expect(recovering.io.of("/").adapter.constructor.name).toBe("SessionAwareAdapter");
    expect(hasOtherNodes(recovering.io.of("/").adapter)).toBe(false);
    // socket.io's in-memory Adapter class (socket.io-adapter), as a cluster adapter extends it.
    const Adapter = single.io.of("/").adapter.constructor as new (nsp: unknown) => object;
    class ClusterAdapter extends Adapter {
      sent: unknown[][] = [];
      serverSideEmit(packet: unknown[]): void {
        this.sent.push(packet);
      }
    }
    const cluster = await serve({ adapter: ClusterAdapter as never });
    const adapter = cluster.io.of("/").adapter as unknown as ClusterAdapter;
    expect(hasOtherNodes(adapter)).toBe(true);
    emitToOtherNodes(cluster.io, "x:end", { key: "k" });
    expect(adapter.sent).toEqual([["x:end", { key: "k" }]]);
  });

  it("sends nothing (and warns nothing) through the in-memory adapter, and hears what another node sends", async () => {
    const { io } = await serve();
    const warnings: unknown[] = [];
    const onWarning = (warning: unknown) => warnings.push(warning);
    process.on("warning", onWarning);
    cleanups.push(() => process.off("warning", onWarning));
    emitToOtherNodes(io, "x:end", { key: "k" });
    const heard: unknown[] = [];
    onOtherNodes(io, "x:end", (payload) => heard.push(payload));
    // How socket.io hands a namespace an event another node sent with serverSideEmit.
    (io.of("/") as unknown as { _onServerSideEmit(args: unknown[]): void })._onServerSideEmit(["x:end", { user: "u" }]);
    expect(heard).toEqual([{ user: "u" }]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toEqual([]);
  });
});

// Issue 18: ends between nodes are sent with an acknowledgement, and heard with the ack socket.io appends.
describe("emitToOtherNodesWithAck, requestTimeoutOf, linkLooksDown", () => {
  it("calls the adapter's own serverSideEmit with the ack last, and gathers the answers", async () => {
    const single = await serve();
    expect(await emitToOtherNodesWithAck(single.io, "x:end", {})).toEqual({ responses: [], complete: true });
    const Adapter = single.io.of("/").adapter.constructor as new (nsp: unknown) => object;
    let behaviour: "answer" | "partial" | "reject" | "throw" | "silent" = "answer";
    class ClusterAdapter extends Adapter {
      requestsTimeout = 50;
      sent: unknown[][] = [];
      async serverSideEmit(packet: unknown[]): Promise<void> {
        this.sent.push(packet.slice(0, -1));
        const ack = packet.at(-1) as (error: Error | null, responses: unknown[]) => void;
        if (behaviour === "answer") ack(null, [{ node: "b" }]);
        if (behaviour === "partial") ack(new Error("timeout reached"), [{ node: "b" }]);
        if (behaviour === "reject") throw new Error("serverCount failed");
      }
    }
    const cluster = await serve({ adapter: ClusterAdapter as never });
    const adapter = cluster.io.of("/").adapter as unknown as ClusterAdapter;
    expect(await emitToOtherNodesWithAck(cluster.io, "x:end", { key: "k" })).toEqual({
      responses: [{ node: "b" }],
      complete: true,
    });
    expect(adapter.sent).toEqual([["x:end", { key: "k" }]]);
    behaviour = "partial";
    expect(await emitToOtherNodesWithAck(cluster.io, "x:end", {})).toEqual({
      responses: [{ node: "b" }],
      complete: false,
    });
    behaviour = "reject";
    expect(await emitToOtherNodesWithAck(cluster.io, "x:end", {})).toEqual({ responses: [], complete: false });
    // An adapter that never calls back: given up after its requestsTimeout plus a margin, never a hang.
    behaviour = "silent";
    const started = Date.now();
    expect(await emitToOtherNodesWithAck(cluster.io, "x:end", {})).toEqual({ responses: [], complete: false });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("hands a listener the ack socket.io appends to an event another node sent with one", async () => {
    const { io } = await serve();
    const answers: unknown[] = [];
    onOtherNodes(io, "x:catch-up", (payload, ack) => ack?.({ got: payload }));
    (io.of("/") as unknown as { _onServerSideEmit(args: unknown[]): void })._onServerSideEmit([
      "x:catch-up",
      { after: {} },
      (answer: unknown) => answers.push(answer),
    ]);
    expect(answers).toEqual([{ got: { after: {} } }]);
  });

  it("reads the classic adapter's requestsTimeout (else 5 s) and its publishing client's state", () => {
    expect(requestTimeoutOf({ requestsTimeout: 1_234 })).toBe(1_234);
    expect(requestTimeoutOf({})).toBe(5_000);
    const io = (adapter: object) => ({ of: () => ({ adapter }) }) as never;
    expect(linkLooksDown(io({ pubClient: { status: "ready" } }))).toBe(false); // ioredis
    expect(linkLooksDown(io({ pubClient: { status: "reconnecting" } }))).toBe(true);
    expect(linkLooksDown(io({ pubClient: { isReady: false } }))).toBe(true); // node-redis
    expect(linkLooksDown(io({ pubClient: { isReady: true, isOpen: true } }))).toBe(false);
    expect(linkLooksDown(io({ pubClient: { isOpen: false } }))).toBe(true); // node-redis before 4.1
    expect(linkLooksDown(io({}))).toBe(false); // cannot tell: sharded, streams
  });
});

describe("afterWritten", () => {
  it("calls back once, after socket.io wrote the event's packet, and not for other events", async () => {
    const { client } = await serve();
    const { client: browser, socket } = await client();
    const order: string[] = [];
    const received = new Promise<void>((resolve) => browser.on("bye", () => resolve()));
    const undo = afterWritten(socket, "bye", () => order.push("written"));
    socket.emit("other", 1);
    socket.emit("bye", { code: "X" });
    order.push("emitted");
    await received;
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(["emitted", "written"]);
    undo();
    socket.emit("bye", {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual(["emitted", "written"]);
  });
});

describe("operatorClass and countingAdapter", () => {
  it("builds socket.io's BroadcastOperator, and counts the recipients of a broadcast with acks", async () => {
    const { io, client } = await serve();
    const a = await client();
    const b = await client();
    a.client.on("ping", (ack: (answer: string) => void) => ack("a"));
    b.client.on("ping", (ack: (answer: string) => void) => ack("b"));
    await a.socket.join("room");
    await b.socket.join("room");
    const Operator = operatorClass(io);
    const counts: number[] = [];
    let asked = 0;
    const adapter = io.of("/").adapter;
    const counting = countingAdapter(
      adapter,
      (count) => counts.push(count),
      () => {
        asked++;
        return adapter.serverCount();
      },
    );
    const answers = await new Operator(counting, new Set(["room"]), new Set([b.socket.id]), {
      timeout: 2000,
    }).emitWithAck("ping" as never);
    expect(answers).toEqual(["a"]);
    expect(counts).toEqual([1]);
    expect(asked).toBe(1);
    // The counting adapter is the adapter for everything else.
    expect(counting.rooms).toBe(adapter.rooms);
  });
});

describe("transportOf", () => {
  it("reads engine.io's parsed query on allowRequest's request and on socket.request, for each transport", async () => {
    const seen: Array<[string, string | undefined, unknown]> = [];
    const { io, url } = await serve({
      allowRequest: (req, callback) => {
        seen.push(["allowRequest", transportOf(req), (req as { _query?: { transport?: unknown } })._query?.transport]);
        callback(null, true);
      },
    });
    io.use((socket, next) => {
      const req = socket.request as { _query?: { transport?: unknown } };
      seen.push(["middleware", transportOf(socket.request), req._query?.transport]);
      next();
    });
    for (const transports of [["polling"], ["websocket"]]) {
      const client = connect(url, { transports, reconnection: false, forceNew: true });
      cleanups.push(() => client.disconnect());
      await new Promise((resolve, reject) => {
        client.once("connect", () => resolve(undefined));
        client.once("connect_error", reject);
      });
    }
    // The private field itself is there: the URL fallback alone would pass without it.
    expect(seen).toEqual([
      ["allowRequest", "polling", "polling"],
      ["middleware", "polling", "polling"],
      ["allowRequest", "websocket", "websocket"],
      ["middleware", "websocket", "websocket"],
    ]);
  });

  it("falls back to the URL's transport parameter when there is no parsed query", () => {
    expect(transportOf({ url: "/socket.io/?EIO=4&transport=polling" } as never)).toBe("polling");
    expect(transportOf({ url: "/socket.io/?EIO=4" } as never)).toBeUndefined();
  });
});
