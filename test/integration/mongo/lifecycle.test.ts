import { randomBytes } from "node:crypto";
import MongoStore from "connect-mongo";
import { MongoClient } from "mongodb";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionAuth } from "socket.io-session-auth";
import { mongoStore } from "socket.io-session-auth/mongo";
import { MONGO_TARGET_LABEL, startMongoTarget, type MongoTarget } from "../../support/mongo-server/target.js";
import { ask, connect, ending, serveLifecycle, startRealtime } from "../../support/realtime.js";
import { sessionIdOf, startWebApp } from "../../support/web-app.js";

// The lifecycle with sessions in MongoDB: real express-session + connect-mongo writing through the real
// driver, mongoStore reading and writing back (the in-process test server, or MONGODB_URI's MongoDB).

const SECRET = "keyboard cat";
let target: MongoTarget;
let dbName: string;
let client: MongoClient;
const closers: Array<() => unknown> = [];
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  target = await startMongoTarget();
  dbName = target.newDatabase();
  client = new MongoClient(target.uri(dbName), { serverSelectionTimeoutMS: 5000 });
}, 30_000);
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(async () => {
  await client?.close();
  await target?.close();
}, 30_000);

async function setup(options: { stringify: boolean; maxAge?: number }) {
  const collectionName = `sessions_${randomBytes(4).toString("hex")}`;
  const web = await startWebApp({
    store: MongoStore.create({ client, dbName, collectionName, autoRemove: "disabled", stringify: options.stringify }),
    secret: SECRET,
    ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge }),
  });
  closers.push(() => web.close());
  const auth = sessionAuth({
    store: mongoStore({ db: client.db(dbName), collectionName }),
    secret: SECRET,
    revalidate: false,
  });
  closers.push(() => auth.close());
  const realtime = await startRealtime((io) => {
    auth.attach(io);
    serveLifecycle(io, auth);
  });
  closers.push(() => realtime.close());
  const open = async (cookie: string) => {
    const socket = await connect(realtime.url, { cookie, transports: ["websocket"] });
    sockets.push(socket);
    return socket;
  };
  const document = (cookie: string) =>
    client
      .db(dbName)
      .collection<{ _id: string; session: unknown; expires: Date }>(collectionName)
      .findOne({ _id: sessionIdOf(cookie) });
  return { web, open, document };
}

describe.each([true, false])(
  `the lifecycle on MongoDB (connect-mongo, ${MONGO_TARGET_LABEL}), stringify: %s`,
  (stringify) => {
    it("20 concurrent updates from two sockets lose nothing; the web app sees all 20; expires is kept", async () => {
      const { web, open, document } = await setup({ stringify });
      const cookie = await web.login({ id: 1 });
      const expiresBefore = (await document(cookie))!.expires.getTime();
      const one = await open(cookie);
      const two = await open(cookie);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => ask<{ ok: boolean }>(i % 2 === 0 ? one : two, "add", i)),
      );
      expect(answers.filter((answer) => !answer.ok)).toEqual([]);
      const stored = (await document(cookie))!;
      const session = (typeof stored.session === "string" ? JSON.parse(stored.session) : stored.session) as {
        items: number[];
      };
      expect([...session.items].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(stored.expires.getTime()).toBe(expiresBefore);
      expect(typeof stored.session).toBe(stringify ? "string" : "object");
      await web.visit({ seen: true }, cookie); // connect-mongo reads it back on the next request
      const after = (await document(cookie))!;
      expect(
        ((typeof after.session === "string" ? JSON.parse(after.session) : after.session) as { items: number[] }).items,
      ).toHaveLength(20);
    });

    it("a session ends its sockets when connect-mongo's expires passes (re-checked then, no polling)", async () => {
      const { web, open } = await setup({ stringify, maxAge: 1_200 });
      const socket = await open(await web.login({ id: 2 }));
      const started = Date.now();
      expect(await ending(socket)).toEqual({ event: { code: "SESSION_EXPIRED" }, reason: "io server disconnect" });
      expect(Date.now() - started).toBeLessThan(3_000);
    });
  },
);
