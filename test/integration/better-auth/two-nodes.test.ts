import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { betterAuthStore, type BetterAuthSession } from "socket.io-session-auth/better-auth";
import {
  emptyDb,
  makeBetterAuth,
  startBetterAuthWebApp,
  type BetterAuthWebApp,
} from "../../support/better-auth-app.js";
import { redisAdapter, startAuthNode, untilServerCount, type AuthNode } from "../../support/nodes.js";
import { connect, ending } from "../../support/realtime.js";
import { redisServerAvailable, startRedisServer, type RedisServer } from "../../support/redis-server.js";

// Two socket.io nodes on @socket.io/redis-adapter over a real redis-server, each with its own Better Auth
// over the web app's database: a sign-out on the web app ends the socket on whichever node holds it.

type Node = AuthNode<BetterAuthSession>;

describe.skipIf(!redisServerAvailable())("Better Auth across two nodes (redis adapter)", () => {
  let redis: RedisServer;
  let web: BetterAuthWebApp;
  const nodes: Node[] = [];
  const sockets: ClientSocket[] = [];
  const db = emptyDb();

  async function startNode(): Promise<Node> {
    const store = await betterAuthStore(makeBetterAuth(db, { baseURL: web.url }));
    return startAuthNode<BetterAuthSession>({ store }, redisAdapter(redis.url));
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    // The web app's delete hook ends the session through node A; node B holds the socket.
    web = await startBetterAuthWebApp(db, {
      databaseHooks: {
        session: {
          delete: { after: async (session) => void (await nodes[0]!.auth.endSession(nodes[0]!.io, session.token)) },
        },
      },
    });
    nodes.push(await startNode(), await startNode());
    await untilServerCount(
      nodes.map((node) => node.io),
      2,
    );
  });

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    for (const node of nodes) await node.close();
    await web?.close();
    await redis?.stop();
  });

  const open = async (node: Node, cookie: string) => {
    const socket = await connect(node.url, { cookie, transports: ["websocket"] });
    sockets.push(socket);
    return socket;
  };

  it("a sign-out on the web app ends the socket held by the other node", async () => {
    const { cookie } = await web.signUp("two@example.com");
    const onB = await open(nodes[1]!, cookie);
    const ended = ending(onB);
    await web.signOut(cookie);
    expect(await ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    expect(nodes[1]!.ends.map((e) => e.code)).toEqual(["SESSION_NOT_FOUND"]);
  });

  it("endUser on one node signs the user out on both", async () => {
    const { cookie, userId } = await web.signUp("both@example.com");
    const second = await web.signIn("both@example.com");
    const onA = await open(nodes[0]!, cookie);
    const onB = await open(nodes[1]!, second);
    const endings = [ending(onA), ending(onB)];
    await nodes[0]!.auth.endUser(nodes[0]!.io, userId);
    for (const ended of await Promise.all(endings)) expect(ended.event).toEqual({ code: "UNAUTHENTICATED" });
  });
});
