import { once } from "node:events";
import { connect as tcpConnect, type Socket } from "node:net";
import { Long, serialize, type Document } from "bson";
import { MongoClient, type UpdateFilter } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMongoServer, type MongoTestServer } from "../../support/mongo-server/index.js";
import { decodeReply, encodeMsgRequest, FrameReader, OP_MSG, OP_QUERY } from "../../support/mongo-server/wire.js";

// The test server itself, over raw sockets (what the driver does not show: the legacy handshake, the
// unknown-command answer, moreToCome, a garbled frame) and through the real driver (stop/start).

interface Stamp {
  _id: string;
  session?: string;
  expires?: Date;
  createdAt?: Date;
  updatedAt?: Date;
}

let server: MongoTestServer;
beforeAll(async () => {
  server = await startMongoServer();
});
afterAll(() => server?.stop());

/** A raw connection that sends frames and reads whole replies, each wait bounded. */
async function raw(port: number) {
  const socket: Socket = tcpConnect(port, "127.0.0.1");
  await once(socket, "connect");
  const reader = new FrameReader();
  const replies: Buffer[] = [];
  let wake: (() => void) | undefined;
  socket.on("data", (chunk: Buffer) => {
    replies.push(...reader.push(chunk));
    wake?.();
  });
  const next = async (timeout = 2000): Promise<ReturnType<typeof decodeReply>> => {
    const deadline = Date.now() + timeout;
    while (replies.length === 0) {
      if (Date.now() > deadline) throw new Error("no reply");
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return decodeReply(replies.shift()!);
  };
  return { socket, next, pending: () => replies.length };
}

let requestId = 1;
const command = (body: Document, options?: Parameters<typeof encodeMsgRequest>[2]) =>
  encodeMsgRequest(requestId++, body, options);

/** The driver's first message: `ismaster` in an OP_QUERY on admin.$cmd. */
function legacyHello(id: number): Buffer {
  const document = serialize({ ismaster: 1, helloOk: true, client: { driver: { name: "raw" } } });
  const namespace = Buffer.from("admin.$cmd\0");
  const fields = Buffer.alloc(12); // flags, numberToSkip, numberToReturn (-1)
  fields.writeInt32LE(-1, 8);
  const head = Buffer.alloc(16);
  head.writeInt32LE(16 + 4 + namespace.length + 8 + document.length, 0);
  head.writeInt32LE(id, 4);
  head.writeInt32LE(OP_QUERY, 12);
  return Buffer.concat([head, fields.subarray(0, 4), namespace, fields.subarray(4), document]);
}

describe("the MongoDB test server, on the wire", () => {
  it("answers the legacy OP_QUERY handshake with OP_REPLY, as a standalone 7.0", async () => {
    const { socket, next } = await raw(server.port);
    socket.write(legacyHello(77));
    const reply = await next();
    expect(reply).toMatchObject({ responseTo: 77, opCode: 1 });
    expect(reply.body).toMatchObject({
      ismaster: true,
      helloOk: true,
      maxWireVersion: 21,
      logicalSessionTimeoutMinutes: 30,
      ok: 1,
    });
    expect(reply.body.setName).toBeUndefined();
    expect(reply.body.topologyVersion).toBeUndefined();
    socket.destroy();
  });

  it("answers an unknown command with CommandNotFound (59), and keeps the connection", async () => {
    const { socket, next } = await raw(server.port);
    socket.write(command({ frobnicate: 1, $db: "admin" }));
    expect((await next()).body).toEqual({
      ok: 0,
      errmsg: "no such command: 'frobnicate'",
      code: 59,
      codeName: "CommandNotFound",
    });
    socket.write(command({ ping: 1, $db: "admin" }));
    expect(await next()).toMatchObject({ opCode: OP_MSG, body: { ok: 1 } });
    socket.destroy();
  });

  it("takes documents in an OP_MSG sequence, stays silent on moreToCome, and pages with getMore", async () => {
    const { socket, next, pending } = await raw(server.port);
    const documents = Array.from({ length: 5 }, (_, n) => ({ _id: n, n }));
    socket.write(command({ insert: "paged", $db: "wire" }, { sequences: { documents } }));
    expect((await next()).body).toEqual({ n: 5, ok: 1 });
    socket.write(command({ insert: "paged", documents: [{ _id: 5, n: 5 }], $db: "wire" }, { moreToCome: true }));
    socket.write(command({ find: "paged", filter: { n: { $gte: 1 } }, batchSize: 2, $db: "wire" }));
    const first = (await next()).body.cursor as { id: Long | number; firstBatch: Document[] };
    expect(pending()).toBe(0); // the moreToCome insert got no reply
    expect(first.firstBatch.map((d) => d.n)).toEqual([1, 2]);
    socket.write(command({ getMore: Long.fromValue(first.id), collection: "paged", batchSize: 10, $db: "wire" }));
    const rest = (await next()).body.cursor as { id: number; nextBatch: Document[] };
    expect(rest.nextBatch.map((d) => d.n)).toEqual([3, 4, 5]);
    expect(Number(rest.id)).toBe(0);
    socket.write(command({ insert: "paged", documents: [{ _id: 1 }], $db: "wire" }));
    expect((await next()).body).toMatchObject({ n: 0, writeErrors: [{ index: 0, code: 11000 }], ok: 1 });
    socket.destroy();
  });

  it("drops a connection that sends a garbled frame", async () => {
    const { socket } = await raw(server.port);
    const closed = once(socket, "close");
    const garbage = Buffer.alloc(16);
    garbage.writeInt32LE(-5, 0);
    socket.write(garbage);
    await closed;
    expect(socket.destroyed).toBe(true);
  });
});

describe("the MongoDB test server, through the real driver", () => {
  it("stops and starts on the same port, keeping its data; the client reconnects by itself", async () => {
    const own = await startMongoServer();
    const client = new MongoClient(own.uri("app"), { serverSelectionTimeoutMS: 500 });
    try {
      const collection = client.db("app").collection<{ _id: string; v: number }>("things");
      await collection.insertOne({ _id: "a", v: 1 });
      const port = own.port;
      await own.stop();
      await expect(collection.findOne({ _id: "a" })).rejects.toMatchObject({
        name: expect.stringMatching(/^Mongo\w*Error$/),
      });
      await own.start();
      expect(own.port).toBe(port);
      const deadline = Date.now() + 10_000;
      let found: { v: number } | null = null;
      while (found === null) {
        found = await collection.findOne({ _id: "a" }).catch(() => null);
        if (found === null && Date.now() > deadline) throw new Error("the driver did not reconnect within 10 s");
        if (found === null) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(found).toEqual({ _id: "a", v: 1 });
      expect(own.documents("app", "things")).toEqual([{ _id: "a", v: 1 }]);
      expect(own.received.map((each) => each.name)).toContain("ismaster");
    } finally {
      await client.close();
      await own.stop();
    }
  });

  it("answers the monitor's periodic hello and a cursor closed early (killCursors)", async () => {
    const client = new MongoClient(server.uri("app"), { serverSelectionTimeoutMS: 2000, heartbeatFrequencyMS: 500 });
    try {
      const collection = client.db("app").collection<{ _id: number }>("monitored");
      await collection.insertMany(Array.from({ length: 5 }, (_, n) => ({ _id: n })));
      const seen = (name: string) => server.received.filter((each) => each.name === name).length;
      const hellos = seen("hello");
      const deadline = Date.now() + 5000;
      while (seen("hello") === hellos) {
        if (Date.now() > deadline) throw new Error("no monitoring hello within 5 s");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const cursor = collection.find({}, { batchSize: 2 });
      expect(await cursor.next()).toEqual({ _id: 0 });
      const killed = seen("killCursors");
      await cursor.close();
      expect(seen("killCursors")).toBe(killed + 1);
      expect(await collection.findOne({ _id: 4 })).toEqual({ _id: 4 }); // the client is still fine
    } finally {
      await client.close();
    }
  });

  it("serves what connect-mongo's timestamps and touch send: $setOnInsert, $currentDate, upsert counts", async () => {
    const client = new MongoClient(server.uri("app"), { serverSelectionTimeoutMS: 2000 });
    try {
      const collection = client.db("app").collection<Stamp>("stamps");
      // What connect-mongo's set() sends with timestamps: true (its $set repeats the _id).
      const upsert: UpdateFilter<Stamp> = {
        $set: { _id: "s", session: "{}" },
        $setOnInsert: { createdAt: new Date(0) },
        $currentDate: { updatedAt: true },
      };
      expect(await collection.updateOne({ _id: "s" }, upsert, { upsert: true })).toMatchObject({
        upsertedCount: 1,
        upsertedId: "s",
      });
      expect(await collection.updateOne({ _id: "s" }, upsert, { upsert: true })).toMatchObject({
        upsertedCount: 0,
        matchedCount: 1,
      });
      const stored = await collection.findOne({ _id: "s" });
      expect(stored).toMatchObject({ _id: "s", session: "{}", createdAt: new Date(0) });
      expect(stored!.updatedAt).toBeInstanceOf(Date);
      expect(await collection.updateOne({ _id: "missing" }, { $set: { expires: new Date() } })).toMatchObject({
        matchedCount: 0,
      });
      expect(await collection.deleteMany({})).toMatchObject({ deletedCount: 1 });
      await expect(collection.find({}).sort({ a: 1 }).toArray()).rejects.toThrow(
        /sort is not supported by the test server/,
      );
    } finally {
      await client.close();
    }
  });
});
