import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { io as ioClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MONGO_TARGET_LABEL, startMongoTarget, type MongoTarget } from "../../support/mongo-server/target.js";

// docs/examples/mongo-*.ts run against a MongoDB (the test server, or MONGODB_URI), and docs/mongo.md
// includes their regions (VitePress `<<<` includes: the page cannot drift from the files).

const SECRET = "docs secret";
const saved = {
  MONGO_URL: process.env.MONGO_URL,
  SESSION_SECRET: process.env.SESSION_SECRET,
  SESSION_CRYPTO_SECRET: process.env.SESSION_CRYPTO_SECRET,
};
let target: MongoTarget;
let examples: {
  web: typeof import("../../../docs/examples/mongo-web.js");
  realtime: typeof import("../../../docs/examples/mongo-realtime.js");
  encrypted: typeof import("../../../docs/examples/mongo-encrypted.js");
  legacy: typeof import("../../../docs/examples/mongo-encrypted-legacy.js");
};

beforeAll(async () => {
  target = await startMongoTarget();
  // The examples read their configuration from the environment when imported.
  process.env.MONGO_URL = target.uri(target.newDatabase());
  process.env.SESSION_SECRET = SECRET;
  process.env.SESSION_CRYPTO_SECRET = "docs crypto secret";
  examples = {
    web: await import("../../../docs/examples/mongo-web.js"),
    realtime: await import("../../../docs/examples/mongo-realtime.js"),
    encrypted: await import("../../../docs/examples/mongo-encrypted.js"),
    legacy: await import("../../../docs/examples/mongo-encrypted-legacy.js"),
  };
}, 30_000);

afterAll(async () => {
  await examples?.realtime.io.close();
  await examples?.web.client.close();
  await examples?.realtime.client.close();
  await examples?.encrypted.client.close();
  await examples?.legacy.client.close();
  await target?.close();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}, 30_000);

describe(`docs/examples/mongo-*.ts against the ${MONGO_TARGET_LABEL}`, () => {
  it("mongo-web + mongo-realtime: log in over HTTP, and the socket knows whose it is", async () => {
    const web = createServer(examples.web.app);
    web.listen(0, "127.0.0.1");
    await once(web, "listening");
    const { http } = examples.realtime;
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    try {
      const res = await fetch(`http://127.0.0.1:${(web.address() as AddressInfo).port}/login`, { method: "POST" });
      expect(res.status).toBe(204);
      const cookie = res.headers.getSetCookie()[0]!.split(";")[0]!;
      const socket = ioClient(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, {
        extraHeaders: { cookie },
        reconnection: false,
        forceNew: true,
        timeout: 5000,
      });
      try {
        const hello = await new Promise((resolve, reject) => {
          socket.once("hello", resolve);
          socket.once("connect_error", reject);
        });
        expect(hello).toBe("you are 42");
      } finally {
        socket.close();
      }
    } finally {
      web.closeAllConnections();
      await new Promise<void>((resolve) => web.close(() => resolve()));
    }
  });

  it("mongo-encrypted: connect-mongo encrypts, the adapter decrypts", async () => {
    const { webStore, store } = examples.encrypted;
    const set = promisify(webStore.set.bind(webStore)) as (sid: string, session: unknown) => Promise<void>;
    await set("encrypted-sid", { cookie: { expires: new Date(Date.now() + 60_000).toISOString() }, userId: "7" });
    const record = await store.get("encrypted-sid", {
      signal: new AbortController().signal,
      report: (cause) => expect.fail(String(cause)),
    });
    expect(record!.session).toMatchObject({ userId: "7" });
    expect(record!.expires).toBeInstanceOf(Date);
  });

  it("mongo-encrypted-legacy: connect-mongo's `crypto` (kruptein) encrypts, the adapter with createKrupteinAdapter decrypts", async () => {
    const { webStore, store } = examples.legacy;
    const set = promisify(webStore.set.bind(webStore)) as (sid: string, session: unknown) => Promise<void>;
    await set("legacy-sid", { cookie: { expires: new Date(Date.now() + 60_000).toISOString() }, userId: "8" });
    const record = await store.get("legacy-sid", {
      signal: new AbortController().signal,
      report: (cause) => expect.fail(String(cause)),
    });
    expect(record!.session).toMatchObject({ userId: "8" });
    expect(record!.expires).toBeInstanceOf(Date);
  });

  it("mongo-options.ts: each form of the options builds a store that reads connect-mongo's sessions", async () => {
    const { stores } = await import("../../../docs/examples/mongo-options.js");
    const built = stores(examples.web.client);
    expect(built.map((store) => store.name)).toEqual(["mongo", "mongo", "mongo"]);
    const record = await built[0]!.get("no-such-session", {
      signal: new AbortController().signal,
      report: (cause) => expect.fail(String(cause)),
    });
    expect(record).toBeNull();
  });

  it.each([
    ["mongo-options", "options"],
    ["mongo-web", "mongo-web"],
    ["mongo-realtime", "mongo-realtime"],
    ["mongo-encrypted", "mongo-encrypted"],
    ["mongo-encrypted-legacy", "mongo-encrypted-legacy"],
  ])("docs/mongo.md includes the %s.ts region %s, and the region exists", (file, name) => {
    const example = readFileSync(new URL(`../../../docs/examples/${file}.ts`, import.meta.url), "utf8");
    const lines = example.split("\n").map((line) => line.trim());
    const start = lines.indexOf(`// #region ${name}`);
    const end = lines.indexOf(`// #endregion ${name}`);
    expect(start, `${file}.ts has "// #region ${name}"`).toBeGreaterThanOrEqual(0);
    expect(end - start, `${file}.ts closes the region with lines in it`).toBeGreaterThan(1);
    const page = readFileSync(new URL("../../../docs/mongo.md", import.meta.url), "utf8");
    expect(page).toContain(`<<< @/examples/${file}.ts#${name}\n`);
  });
});
