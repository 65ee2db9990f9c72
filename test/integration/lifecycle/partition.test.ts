import { createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryStore } from "socket.io-session-auth/memory";
import { eventually } from "../../support/eventually.js";
import { redisAdapter, startAuthNode, untilServerCount, type AuthNode, type NodeAdapter } from "../../support/nodes.js";
import { connect, ending } from "../../support/realtime.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { startRelay, type Relay } from "../../support/relay.js";
import { sessionIdOf, startWebApp, type WebApp } from "../../support/web-app.js";

// Issue 18: two nodes on each of socket.io's Redis adapters; node B's link to Redis goes through a TCP
// relay that cuts it for 1.5 s while node A ends a user whose session stays valid (a ban) and a session.
// socket.io's adapters carry serverSideEmit over pub/sub (the streams adapter too), so B misses the end;
// it must catch up once its link is back, and A must say it could not confirm.

const SECRET = "partition cat";
const CUT_MS = 1_500;
const CAUGHT_UP_WITHIN_MS = 2_500;

type Kind = "classic" | "sharded" | "streams";

const available = redisServerAvailable();
let redis: RedisServer;
let web: WebApp;

beforeAll(async () => {
  if (!available) return;
  redis = await startRedisServer();
  web = await startWebApp({ secret: SECRET });
});

afterAll(async () => {
  await web?.close();
  await redis?.stop();
});

/** One node; its adapter's Redis clients connect to `url` (Redis itself, or the relay). */
async function startNode(kind: Kind, url: string): Promise<AuthNode> {
  return startAuthNode(
    // Each socket's own read: a newer socket's read begins after the ends (not a sibling's shared read).
    { store: memoryStore(web.store), secret: SECRET, sharedReadMaxAge: false },
    await adapterOf(kind, url),
  );
}

/** The adapter of `kind`, its Redis clients connected to `url`; their errors are ignored (the cut is the point). */
async function adapterOf(kind: Kind, url: string): Promise<NodeAdapter> {
  if (kind === "classic") return redisAdapter(url, { ignoreErrors: true });
  const client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  if (kind === "sharded") {
    const sub = client.duplicate();
    sub.on("error", () => {});
    await sub.connect();
    return {
      adapter: createShardedAdapter(client, sub),
      close: () => Promise.allSettled([client.close(), sub.close()]),
    };
  }
  return { adapter: createStreamsAdapter(client), close: () => Promise.allSettled([client.close()]) };
}

describe.skipIf(!available).each<Kind>(["classic", "sharded", "streams"])("the %s adapter", (kind) => {
  let relay: Relay;
  let a: AuthNode;
  let b: AuthNode;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    relay = await startRelay(redis.port);
    a = await startNode(kind, redis.url);
    b = await startNode(kind, relay.url);
    await untilServerCount([a.io, b.io], 2);
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await a?.close();
    await b?.close();
    await relay?.close();
  });

  async function open(node: AuthNode, cookie: string): Promise<ClientSocket> {
    const socket = await connect(node.url, { cookie, transports: ["websocket"] });
    sockets.push(socket);
    return socket;
  }

  it("with every node reachable, endSession resolves that both nodes confirmed", async () => {
    const cookie = await web.login({ id: `ann-${kind}` });
    const seen = [ending(await open(a, cookie)), ending(await open(b, cookie))];
    expect(await a.auth.endSession(a.io, sessionIdOf(cookie))).toEqual({ nodes: 2, acknowledged: 2, complete: true });
    expect((await Promise.all(seen)).map((end) => end.reason)).toEqual([
      "io server disconnect",
      "io server disconnect",
    ]);
  });

  it("ends sent while B's link is cut reach B's sockets once the link is back; newer sockets stay", async ({
    annotate,
  }) => {
    const user = `u-7-${kind}`;
    const banned = await web.login({ id: user });
    const onA = ending(await open(a, banned));
    const onB = ending(await open(b, banned));
    const carol = await web.login({ id: `carol-${kind}` });
    const carolOnB = ending(await open(b, carol));
    const bystander = await open(b, await web.login({ id: `dave-${kind}` }));
    b.ends.length = 0;

    // node-redis 6.3 with the sharded adapter: the reset rejects the SSUBSCRIBE promises of B's newest room
    // channels, which @socket.io/redis-adapter never catches (not this library's: same on main before issue
    // 18). Captured here, where the cut causes them, and asserted to be only those.
    const stray: unknown[] = [];
    const capture = (reason: unknown): void => void stray.push(reason);
    process.on("unhandledRejection", capture);
    const back = relay.cut(CUT_MS);
    // Redis has dropped B's subscription: A's adapter counts one node (its NUMSUB/SHARDNUMSUB).
    await eventually(async () => expect(await a.io.of("/").adapter.serverCount()).toBe(1), CUT_MS / 2);
    const banning = a.auth.endUser(a.io, user);
    const loggingOut = a.auth.endSession(a.io, sessionIdOf(carol));
    expect(await onA).toEqual({ event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" });
    // B cannot confirm, and A says so at once (B is no longer in Redis' count, but A saw it lately).
    expect(await banning).toEqual({ nodes: 2, acknowledged: 1, complete: false });
    expect(await loggingOut).toEqual({ nodes: 2, acknowledged: 1, complete: false });
    // The same user opens a tab on B after the ban: A would accept it too (the session is valid). The
    // gap is a margin, not a wait: a caught-up end's time is late by the answer's transit (it errs
    // towards ending), so a read within those few ms of the end would be ended too.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const newer = await open(b, banned);

    const linkBack = await back;
    const caughtUp = await Promise.race([
      Promise.all([onB, carolOnB]).then((ends) => ({ ends, ms: Date.now() - linkBack })),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), CAUGHT_UP_WITHIN_MS + 1_000)),
    ]);
    expect(caughtUp?.ends).toEqual([
      { event: { code: "UNAUTHENTICATED" }, reason: "io server disconnect" },
      { event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" },
    ]);
    process.off("unhandledRejection", capture);
    expect(caughtUp!.ms).toBeLessThan(CAUGHT_UP_WITHIN_MS);
    expect(stray.map((reason) => (reason as NodeJS.ErrnoException).code)).toEqual(
      kind === "sharded" ? stray.map(() => "ECONNRESET") : [],
    );
    expect(b.ends.map((error) => error.code).sort()).toEqual(["SESSION_NOT_FOUND", "UNAUTHENTICATED"]);
    expect(newer.connected).toBe(true);
    expect(bystander.connected).toBe(true);
    // A measurement, kept with the test's result (reporters show annotations; a green run prints nothing).
    await annotate(`${kind}: B caught up ${caughtUp!.ms} ms after its link came back`, "measurement");
  }, 20_000);
});
