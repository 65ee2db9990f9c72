import { request } from "node:http";
import { afterEach, expect, it } from "vitest";
import { sessionAuth, type SessionData, type SessionStore } from "socket.io-session-auth";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { connect, startRealtime } from "../../support/realtime.js";

// engine.io writes to the response once allowRequest answers; a client that went away during a slow store
// lookup must cost no crash and no unhandled error (under uWebSockets.js such a write kills the process:
// socketio/engine.io#705). Node's engine is what installs here; the uWS branch is the same check.

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

/** A store whose lookups wait until `release()`; `started` resolves at the first lookup. */
function slowStore() {
  const sessions = new Map<string, SessionData>([["sid", { userId: "7" }]]);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const first = new Promise<void>((resolve) => (started = resolve));
  const store: SessionStore = {
    name: "slow",
    async get(id) {
      started();
      await gate;
      const session = sessions.get(id);
      return session === undefined ? null : { session };
    },
  };
  return { store, release, started: first };
}

it.each([
  ["an accepted session", "sid"],
  ["a refused one (no such session)", "gone"],
])(
  "a polling handshake aborted during the store lookup of %s: no answer, no crash, nothing unhandled",
  async (_, id) => {
    const problems: unknown[] = [];
    const onProblem = (error: unknown) => problems.push(error);
    process.on("unhandledRejection", onProblem);
    process.on("uncaughtException", onProblem);
    opened.push({
      close: () => (process.off("unhandledRejection", onProblem), process.off("uncaughtException", onProblem)),
    });

    const { store, release, started } = slowStore();
    const auth = sessionAuth({ store, secret: "s", onError: () => {} });
    opened.push(auth);
    const realtime = await startRealtime((io) => void auth.attach(io), { allowRequest: auth.allowRequest });
    opened.push(realtime);
    const errors: unknown[] = [];
    realtime.io.engine.on("connection_error", (error: unknown) => errors.push(error));

    const cookie = signSessionCookie({ value: id, secret: "s" });
    const req = request(`${realtime.url}/socket.io/?EIO=4&transport=polling`, { headers: { cookie } });
    req.on("error", () => {}); // the abort below
    req.end();
    await started;
    req.destroy();
    // Until the server has seen the connection close.
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(problems).toEqual([]);
    expect(realtime.io.engine.clientsCount).toBe(0);
    expect(errors).toEqual([]);

    // The server goes on serving.
    const socket = await connect(realtime.url, { cookie: signSessionCookie({ value: "sid", secret: "s" }) });
    opened.push(socket);
    expect(socket.connected).toBe(true);
  },
);
