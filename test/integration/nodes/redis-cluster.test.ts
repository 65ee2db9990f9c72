import { RedisStore } from "connect-redis";
import { Cluster } from "ioredis";
import { createCluster } from "redis";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SessionAuthOptions, SessionStore } from "socket.io-session-auth";
import { redisStore, type RedisStoreOptions } from "socket.io-session-auth/redis";
import { eventually } from "../../support/eventually.js";
import { ask, connect, refusal, type WhoAmI, startWhoamiServer } from "../../support/realtime.js";
import {
  redisClusterAvailable,
  startRedisCluster,
  type ClusterMaster,
  type RedisCluster,
} from "../../support/redis-cluster.js";
import { startWebApp, sessionIdOf, type WebApp } from "../../support/web-app.js";

// Sessions in a real 3-master Redis Cluster: the web app writes them with connect-redis through
// node-redis `createCluster` (connect-redis 8+ speaks node-redis only); the realtime side reads them
// with `redisStore` over ioredis `Cluster` and over node-redis `createCluster`. One cluster for the
// whole file; the test that kills a master runs last and restarts it.

const SECRET = "keyboard cat";
const PREFIX = "sess:";
const available = redisClusterAvailable();

const newNodeRedisCluster = (cluster: RedisCluster) => createCluster({ rootNodes: [...cluster.rootNodes] });
type NodeRedisCluster = ReturnType<typeof newNodeRedisCluster>;
type Reader = "ioredis Cluster" | "node-redis createCluster" | "node-redis createCluster, disableOfflineQueue";
const READERS: Reader[] = ["ioredis Cluster", "node-redis createCluster"];
// node-redis queues a command for a node that is down until it is back; without that queue it fails at once.
const OUTAGE_READERS: Array<[Reader, number]> = [
  ["ioredis Cluster", 2000], // gives up after its redirection retries (about 1 s here)
  ["node-redis createCluster", 2000], // waits: the refusal comes at sessionAuth's timeout
  ["node-redis createCluster, disableOfflineQueue", 500],
];

describe.skipIf(!available)("sessions in a Redis Cluster (3 masters)", () => {
  let cluster: RedisCluster;
  let writer: NodeRedisCluster;
  let web: WebApp;
  const perTest: Array<() => unknown> = [];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    writer = newNodeRedisCluster(cluster);
    writer.on("error", () => {}); // an app listens to 'error', as node-redis asks; the kill test makes some
    await writer.connect();
    web = await startWebApp({ store: new RedisStore({ client: writer, prefix: PREFIX }) });
  });

  afterAll(async () => {
    await web?.close();
    writer?.destroy();
    await cluster?.stop();
  });

  afterEach(async () => {
    for (const close of perTest.splice(0).reverse()) await close();
  });

  /** A connected reading client; no 'error' listener of ours: the adapter must keep outages from escaping. */
  async function reader(kind: Reader): Promise<Cluster | NodeRedisCluster> {
    if (kind === "ioredis Cluster") {
      const client = new Cluster([...cluster.nodes]);
      await new Promise<void>((resolve, reject) => {
        client.once("ready", resolve);
        client.once("error", reject);
      });
      perTest.push(() => client.disconnect());
      return client;
    }
    const client =
      kind === "node-redis createCluster"
        ? newNodeRedisCluster(cluster)
        : createCluster({ rootNodes: [...cluster.rootNodes], defaults: { disableOfflineQueue: true } });
    await client.connect();
    perTest.push(() => client.destroy());
    return client;
  }

  async function realtime(store: SessionStore, options: Partial<SessionAuthOptions> = {}) {
    const server = await startWhoamiServer({ store, secret: SECRET, ...options });
    const sockets: ClientSocket[] = [];
    perTest.push(async () => {
      for (const socket of sockets) socket.close();
      await server.close();
    });
    const open = async (cookie: string) => {
      const socket = await connect(server.url, { cookie, transports: ["websocket"] });
      sockets.push(socket);
      return socket;
    };
    return { url: server.url, io: server.io, auth: server.auth, errors: server.errors, open };
  }

  /** Logs users in until their sessions sit on at least `spread` different masters; each with its master. */
  async function sessionsOnMasters(
    spread: number,
  ): Promise<Array<{ cookie: string; master: ClusterMaster; user: string }>> {
    const found: Array<{ cookie: string; master: ClusterMaster; user: string }> = [];
    for (let i = 0; i < 40 && new Set(found.map((s) => s.master.port)).size < spread; i++) {
      const user = `u${i}-${Math.random().toString(36).slice(2, 8)}`;
      const cookie = await web.login({ id: user });
      found.push({ cookie, user, master: await cluster.masterOf(PREFIX + sessionIdOf(cookie)) });
    }
    expect(new Set(found.map((s) => s.master.port)).size).toBeGreaterThanOrEqual(spread);
    return found;
  }

  /** INFO commandstats summed over every master: a Cluster spreads the commands. */
  async function commandCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const text of await cluster.everyMaster("INFO", "commandstats")) {
      for (const [, name, calls] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        counts[name!] = (counts[name!] ?? 0) + Number(calls);
    }
    return counts;
  }

  it("the launcher's cluster is one cluster: every master knows the others and the slots are spread over all three", async () => {
    for (const info of await cluster.everyMaster("CLUSTER", "INFO")) {
      expect(info).toContain("cluster_state:ok");
      expect(info).toContain("cluster_known_nodes:3");
      expect(info).toContain("cluster_slots_assigned:16384");
    }
  });

  describe.each(READERS)("read over %s", (kind) => {
    it("authenticates sessions that connect-redis wrote on every master, and refuses after logout", async () => {
      // A read per handshake: the logout below is over HTTP alone (no endSession, no keyspace events).
      const { open, url } = await realtime(redisStore({ client: await reader(kind), prefix: PREFIX }), {
        sharedReadMaxAge: false,
      });
      const sessions = await sessionsOnMasters(3);
      for (const { cookie, user } of sessions) {
        const socket = await open(cookie);
        expect(await ask<WhoAmI>(socket, "whoami")).toMatchObject({ userId: user, user: { id: user } });
      }
      const { cookie } = sessions[0]!;
      await web.logout(cookie);
      expect(await refusal(url, { cookie, transports: ["websocket"] })).toMatchObject({
        message: "SESSION_NOT_FOUND",
        data: { code: "SESSION_NOT_FOUND", retryable: false },
      });
    });

    it("costs exactly one GET per handshake, on the master of the session's slot", async () => {
      const { open } = await realtime(redisStore({ client: await reader(kind), prefix: PREFIX }));
      const sessions = await sessionsOnMasters(2);
      // A Cluster client connects to each master on first use (ioredis says HELLO then): not per handshake.
      for (const { cookie } of sessions) (await open(cookie)).close();
      const before = await commandCounts();
      for (const { cookie } of sessions) (await open(cookie)).close();
      const after = await commandCounts();
      const delta = Object.fromEntries(
        Object.entries(after)
          .map(([name, calls]) => [name, calls - (before[name] ?? 0)] as const)
          .filter(([name, calls]) => calls > 0 && name !== "info"),
      );
      expect(delta).toEqual({ get: sessions.length });
    });
  });

  // auth.update through redisStore's compareAndSet: the write lands on the slot's master through the
  // reading client and keeps the key's TTL.
  it.each(READERS)("update(socket, mutate) writes back through %s, keeping the TTL, and HTTP sees it", async (kind) => {
    const client = await reader(kind);
    const { io, auth, open } = await realtime(redisStore({ client, prefix: PREFIX }));
    const { cookie } = (await sessionsOnMasters(1))[0]!;
    const key = PREFIX + sessionIdOf(cookie);
    const ttlBefore = Number(await (await cluster.masterOf(key)).command("PTTL", key));
    await open(cookie);
    const [server] = await io.fetchSockets();
    const saved = await auth.update(io.sockets.sockets.get(server!.id)!, (session) => {
      (session as Record<string, unknown>).cart = ["tea"];
    });
    expect(saved).toMatchObject({ cart: ["tea"] });
    const master = await cluster.masterOf(key);
    expect(JSON.parse(await master.command("GET", key))).toMatchObject({ cart: ["tea"], user: expect.any(Object) });
    const ttlAfter = Number(await master.command("PTTL", key));
    expect(ttlAfter).toBeLessThanOrEqual(ttlBefore);
    expect(ttlAfter).toBeGreaterThan(ttlBefore - 60_000);
  });

  // redisStore's `subscriber` on a Cluster: with `notify-keyspace-events Egxe` set on every master,
  // destroying (logout) or expiring a session on ANY master ends its sockets at once: `session:ended`
  // with the code, then a server-side disconnect.
  it.each(READERS)(
    "keyspace events from every master end the sockets of a destroyed or expired session (%s)",
    async (kind) => {
      await cluster.everyMaster("CONFIG", "SET", "notify-keyspace-events", "Egxe");
      const client = await reader(kind);
      const subscriber =
        kind === "ioredis Cluster" ? (client as Cluster).duplicate() : (client as NodeRedisCluster).duplicate();
      if (kind === "node-redis createCluster") await (subscriber as NodeRedisCluster).connect();
      perTest.push(() =>
        kind === "ioredis Cluster" ? (subscriber as Cluster).disconnect() : (subscriber as NodeRedisCluster).destroy(),
      );
      const options = { client, subscriber, prefix: PREFIX } as RedisStoreOptions;
      const { open } = await realtime(redisStore(options));
      // The subscriptions to the masters become live asynchronously: probe every master until a deleted
      // key's event ends its socket there.
      await eventually(async () => {
        const probes = await Promise.all(
          (await sessionsOnMasters(3)).map(async ({ cookie }) => {
            const socket = await open(cookie);
            return {
              key: PREFIX + sessionIdOf(cookie),
              gone: new Promise((resolve) => socket.once("disconnect", resolve)),
            };
          }),
        );
        for (const { key } of probes) await (await cluster.masterOf(key)).command("DEL", key);
        const timeout = new Promise((_, reject) =>
          setTimeout(() => reject(new Error("a master's keyspace events are not live yet")), 500),
        );
        await Promise.race([Promise.all(probes.map((probe) => probe.gone)), timeout]);
      }, 10_000);
      const sessions = await sessionsOnMasters(3);
      const ended = await Promise.all(
        sessions.map(async ({ cookie }) => {
          const socket = await open(cookie);
          return {
            cookie,
            event: new Promise<unknown>((resolve) => socket.once("session:ended", resolve)),
            gone: new Promise<string>((resolve) => socket.once("disconnect", resolve)),
          };
        }),
      );
      // Logout on every master but the last session's; that one expires (its key's TTL lapses).
      for (const { cookie } of ended.slice(0, -1)) await web.logout(cookie);
      const last = PREFIX + sessionIdOf(ended.at(-1)!.cookie);
      await (await cluster.masterOf(last)).command("PEXPIRE", last, "200");
      for (const [index, { event, gone }] of ended.entries()) {
        expect(await event).toEqual({ code: index === ended.length - 1 ? "SESSION_EXPIRED" : "SESSION_NOT_FOUND" });
        expect(await gone).toBe("io server disconnect");
      }
    },
  );

  // Runs last: it kills a master (SIGKILL, as a crash) and starts it again.
  describe.each(OUTAGE_READERS)("a master lost mid-run, read over %s", (kind, within) => {
    const TIMEOUT = 1000;

    it("refuses its slots with STORE_UNAVAILABLE within the timeout, serves the other masters' sessions, and recovers after the restart", async () => {
      const { url, errors, open } = await realtime(redisStore({ client: await reader(kind), prefix: PREFIX }), {
        timeout: TIMEOUT,
      });
      const sessions = await sessionsOnMasters(2);
      const victim = sessions[0]!;
      const survivor = sessions.find((s) => s.master !== victim.master)!;
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on("unhandledRejection", onUnhandled);
      try {
        await victim.master.kill();

        const started = Date.now();
        const failure = await refusal(url, { cookie: victim.cookie, transports: ["websocket"] });
        const took = Date.now() - started;
        expect(failure).toMatchObject({
          message: "STORE_UNAVAILABLE",
          data: { code: "STORE_UNAVAILABLE", retryable: true },
        });
        expect(took).toBeLessThan(within);
        // The store's failure reaches the server's log, with no session id in the diagnosis.
        expect(errors.at(-1)?.code).toBe("STORE_UNAVAILABLE");
        expect(errors.at(-1)?.message).not.toContain(sessionIdOf(victim.cookie));

        // The other masters' slots keep working while one is down.
        const socket = await open(survivor.cookie);
        expect(await ask<WhoAmI>(socket, "whoami")).toMatchObject({ userId: survivor.user });

        await victim.master.start();
        // Nothing is persisted in this cluster, so the restarted master is empty: the store answers
        // again (SESSION_NOT_FOUND, not STORE_UNAVAILABLE), and a session written again is accepted.
        await eventually(async () => {
          expect((await refusal(url, { cookie: victim.cookie, transports: ["websocket"] })).message).toBe(
            "SESSION_NOT_FOUND",
          );
        });
        const key = PREFIX + sessionIdOf(victim.cookie);
        const session = {
          cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000) },
          user: { id: victim.user },
        };
        await eventually(() => writer.set(key, JSON.stringify(session), { EX: 3600 }));
        const back = await open(victim.cookie);
        expect(await ask<WhoAmI>(back, "whoami")).toMatchObject({ userId: victim.user });
      } finally {
        process.off("unhandledRejection", onUnhandled);
        if (!victim.master.running) await victim.master.start();
      }
      expect(unhandled).toEqual([]);
    });
  });
});
