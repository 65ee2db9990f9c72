import { randomUUID } from "node:crypto";
import type { Server } from "socket.io";
import { monotonicNow } from "../clock.js";
import type { SessionAuthErrorCode } from "../errors.js";
import { emitWarning } from "../internal/warn.js";
import { createNodeTracker, type NodeTracker } from "../internal/nodes.js";
import {
  emitToOtherNodes,
  emitToOtherNodesWithAck,
  hasOtherNodes,
  linkLooksDown,
  onOtherNodes,
} from "../internal/socketio.js";
import { log } from "../log.js";
import type { EndResult } from "../types.js";
import { hear, isCode, isCount, isNode, MAX_ENDS, readAnswer, targetOf } from "./catch-up.js";
import { createSentEnds, type Target } from "./ended.js";

/**
 * Ends between nodes, so that none is lost to a brief partition (issue 18). socket.io's adapters carry
 * `serverSideEmit` over plain pub/sub (the streams adapter too: it is "ephemeral" there), so a node whose
 * link to Redis is down when an end is sent never gets it. Each node numbers the ends it sends; while it
 * has sent one within the last 30 s it says its latest number twice a second (a beacon). A node that hears
 * a number beyond what it heard from that peer missed some: it asks the peers for them (serverSideEmit
 * with acknowledgement) and ends its sockets then. Everything goes through the adapter's public API, so
 * it works the same on every adapter.
 */
export interface Peers {
  /** Listens on `io` (once per server): ends, beacons and catch-up requests from other nodes. */
  listen(io: Server): void;
  /** Sends an end this node has just applied to its own sockets; resolves what the other nodes confirmed. */
  send(io: Server, target: Target, code: SessionAuthErrorCode): Promise<EndResult>;
  /** Stops the beacon and the node-count samples; the listeners stay (a draining node still ends and answers). */
  close(): void;
}

/** Applies an end from another node: `age` > 0 for one learned late (ms since it was sent). */
export type ApplyEnd = (target: Target, code: SessionAuthErrorCode, age: number) => void;

/** The end itself (the name older versions send and listen to). Carries a session key, never an id. */
const END_EVENT = "socket.io-session-auth:end";
const BEACON_EVENT = "socket.io-session-auth:beacon";
const CATCH_UP_EVENT = "socket.io-session-auth:catch-up";
const VERSION = 1;
const WINDOW_MS = 30_000;
// 1 s measured too close to the 2.5 s bound on the classic adapter (ioredis' jittered backoff + phase).
const BEACON_MS = 500;
const SAMPLE_MS = 5_000;
// As the push router: a drop in the number of nodes is believed only once it has held this long.
const SETTLE_MS = 10_000;

export function createPeers(apply: ApplyEnd): Peers {
  const node = randomUUID();
  const sent = createSentEnds({ ttl: WINDOW_MS, max: MAX_ENDS });
  // Per peer: the highest end number heard from it (all below it applied), and when it was last heard.
  const heard = new Map<string, { seq: number; at: number }>();
  const servers = new Map<Server, { tracker: NodeTracker; sampler: NodeJS.Timeout | undefined }>();
  let beacon: NodeJS.Timeout | undefined;
  let catchingUp = false;
  let again = false;
  let closed = false;
  let warnedLost = false;

  function listen(io: Server): void {
    if (servers.has(io)) return;
    const tracker = createNodeTracker({ settle: SETTLE_MS, now: monotonicNow });
    const state = { tracker, sampler: undefined as NodeJS.Timeout | undefined };
    servers.set(io, state);
    onOtherNodes(io, END_EVENT, (payload, ack) => {
      const message = payload as { node?: unknown; seq?: unknown; key?: unknown; user?: unknown; code?: unknown };
      const target = typeof payload === "object" && payload !== null ? targetOf(message) : undefined;
      if (target !== undefined && isCode(message.code)) apply(target, message.code, 0);
      ack?.({ node });
      if (target !== undefined && isNode(message.node) && isCount(message.seq))
        heardFrom(io, message.node, message.seq, true);
    });
    onOtherNodes(io, BEACON_EVENT, (payload) => {
      const message = payload as { node?: unknown; seq?: unknown } | null;
      if (message !== null && isNode(message?.node) && isCount(message.seq))
        heardFrom(io, message.node, message.seq, false);
    });
    onOtherNodes(io, CATCH_UP_EVENT, (payload, ack) => {
      const after = (payload as { after?: Record<string, unknown> } | null)?.after;
      const from = typeof after === "object" && after !== null && Object.hasOwn(after, node) ? after[node] : 0;
      ack?.({
        node,
        seq: sent.seq,
        oldest: sent.oldest,
        ends: sent
          .after(isCount(from) ? from : 0)
          .map((end) => ({ seq: end.seq, ...end.target, code: end.code, age: Math.round(end.age) })),
      });
    });
    if (!hasOtherNodes(io.of("/").adapter)) return;
    // Without samples, a node whose first end comes while a peer is cut off would count one node fewer
    // and call a partial answer complete.
    let sampling = false;
    const sample = (): void => {
      if (sampling) return;
      sampling = true;
      io.of("/")
        .adapter.serverCount()
        .then(
          (count) => tracker.expect(count),
          () => {},
        )
        .finally(() => (sampling = false));
    };
    sample();
    state.sampler = setInterval(sample, SAMPLE_MS);
    state.sampler.unref();
  }

  /** A peer says it has sent up to `theirs` (`live`: this very message is number `theirs`, applied). */
  function heardFrom(io: Server, peer: string, theirs: number, live: boolean): void {
    const had = heard.get(peer)?.seq ?? 0;
    const next = hear(had, theirs, live);
    heard.set(peer, { seq: next.seq, at: monotonicNow() }); // on a gap, the catch-up answer moves it on
    if (!next.catchUp) return;
    log("missed ends from another node (numbers %d to %d): catching up", had + 1, theirs - (live ? 1 : 0));
    catchUp(io);
  }

  function catchUp(io: Server): void {
    if (catchingUp) {
      again = true;
      return;
    }
    catchingUp = true;
    const now = monotonicNow();
    const after: Record<string, number> = Object.create(null);
    for (const [peer, { seq, at }] of heard) {
      if (now - at > 2 * WINDOW_MS) heard.delete(peer);
      else after[peer] = seq;
    }
    void emitToOtherNodesWithAck(io, CATCH_UP_EVENT, { v: VERSION, node, after }).then(({ responses }) => {
      let caught = 0;
      for (const response of responses) caught += merge(response);
      log("caught up on %d end(s) from %d node(s)", caught, responses.length);
      catchingUp = false;
      if (again) {
        again = false;
        catchUp(io);
      }
    });
  }

  /** Applies the ends a peer's answer holds beyond what was heard from it; returns how many. */
  function merge(response: unknown): number {
    const answer = readAnswer(response, (peer) => heard.get(peer)?.seq ?? 0, WINDOW_MS);
    if (answer === undefined) return 0;
    for (const end of answer.ends) apply(end.target, end.code, end.age);
    if (answer.lost) {
      log("ends older than %d ms from another node were missed and are no longer kept", WINDOW_MS);
      // Once per process and peer's loss would be noise in a long outage: once per lifecycle is enough to
      // say that partitions last longer than the window; the debug log has each one.
      if (!warnedLost) {
        warnedLost = true;
        emitWarning(
          "ENDS_LOST",
          `socket.io-session-auth: this node was cut off from the other nodes for longer than ${WINDOW_MS / 1000} s ` +
            "and missed ends (endSession/endUser) that are no longer kept; the sessions they ended may still have sockets " +
            "here. Their periodic re-reads (revalidate) end the ones whose session is gone.",
        );
      }
    }
    heard.set(answer.node, { seq: answer.seq, at: monotonicNow() });
    return answer.ends.length;
  }

  function startBeacon(): void {
    if (beacon !== undefined || closed) return;
    beacon = setInterval(() => {
      if (!sent.recent() || closed) {
        clearInterval(beacon);
        beacon = undefined;
        return;
      }
      for (const io of servers.keys()) {
        if (!linkLooksDown(io)) emitToOtherNodes(io, BEACON_EVENT, { v: VERSION, node, seq: sent.seq });
      }
    }, BEACON_MS);
    beacon.unref();
  }

  async function send(io: Server, target: Target, code: SessionAuthErrorCode): Promise<EndResult> {
    listen(io);
    const seq = sent.record(target, code);
    startBeacon();
    const adapter = io.of("/").adapter;
    const tracker = servers.get(io)!.tracker;
    const [expected, answer] = await Promise.all([
      hasOtherNodes(adapter)
        ? adapter.serverCount().then(
            (count) => tracker.expect(count),
            () => tracker.expect(0),
          )
        : Promise.resolve(1),
      emitToOtherNodesWithAck(io, END_EVENT, { v: VERSION, node, seq, ...target, code }),
    ]);
    const acknowledged = 1 + answer.responses.length;
    const nodes = Math.max(expected, acknowledged);
    return { nodes, acknowledged, complete: answer.complete && acknowledged >= nodes };
  }

  function close(): void {
    closed = true;
    clearInterval(beacon);
    beacon = undefined;
    for (const state of servers.values()) clearInterval(state.sampler);
  }

  return { listen, send, close };
}
