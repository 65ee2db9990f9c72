import type { Server } from "socket.io";
import { monotonicNow } from "../clock.js";
import { SESSION_AUTH_ERROR_CODES, SessionAuthError, type SessionAuthErrorCode } from "../errors.js";
import { describeFailure } from "../internal/describe.js";
import { emitWarning } from "../internal/warn.js";
import { sessionKey } from "../rooms.js";
import { canonicalSessionId, type SessionStore } from "../store.js";
import type { EndResult } from "../types.js";
import type { EndedMemory, Target } from "./ended.js";
import { createPeers } from "./peers.js";
import type { Sessions } from "./sessions.js";

/**
 * Ends that come from elsewhere than this node's own re-reads: `endSession` / `endUser` (here, and from
 * other nodes through the socket.io adapter's `serverSideEmit`) and the store's own events (`subscribe`:
 * Redis keyspace notifications). Each end is remembered too, for handshakes whose store read is in
 * flight here: they are ended as they connect.
 */
export interface Cluster {
  /** Subscribes to the store's events (once; tried again at the next call after a failure, warned once). */
  subscribe(): void;
  /** Listens on `io` for ends sent by other nodes (once per server), and subscribes to the store. */
  listen(io: Server): void;
  endSession(io: Server, sessionId: string, code?: SessionAuthErrorCode): Promise<EndResult>;
  endUser(io: Server, userId: string | number, code?: SessionAuthErrorCode): Promise<EndResult>;
  /**
   * Stops the store subscription, the beacon and the node-count samples (peers.ts); the adapter listeners
   * stay (a draining server still honours logouts, and answers peers catching up).
   */
  close(): void;
}

export function createCluster<S extends object>(
  store: SessionStore<S>,
  sessions: Sessions<S>,
  ended: EndedMemory,
): Cluster {
  const listening = new WeakSet<Server>();
  let unsubscribe: (() => void) | undefined;
  let warnedSubscribe = false;
  let closed = false;

  /**
   * Ends the target's sockets here and remembers it. `age` > 0: an end sent that long ago and learned
   * late (after a partition): only sockets whose read began before it end.
   */
  function endLocal(target: Target, code: SessionAuthErrorCode, by: string, age = 0): void {
    const reason = new SessionAuthError(code, `Ended by ${by}.`);
    const at = age > 0 ? monotonicNow() - age : undefined;
    if ("key" in target) {
      ended.remember("key", target.key, reason, at);
      sessions.endKey(target.key, reason, at);
    } else {
      ended.remember("user", target.user, reason, at);
      sessions.endUser(target.user, reason, at);
    }
  }

  const peers = createPeers((target, code, age) =>
    endLocal(
      target,
      code,
      `${"key" in target ? "endSession" : "endUser"} on another node${age > 0 ? " (caught up after a partition)" : ""}`,
      age,
    ),
  );

  function subscribe(): void {
    if (closed || unsubscribe !== undefined || store.subscribe === undefined) return;
    try {
      unsubscribe = store.subscribe((id, why) => {
        if (typeof id !== "string" || closed) return;
        const key = sessionKey(id);
        const code = why === "expired" ? "SESSION_EXPIRED" : "SESSION_NOT_FOUND";
        const reason = new SessionAuthError(
          code,
          `The store reported the session ${why === "expired" ? "expired" : "destroyed"}.`,
        );
        ended.remember("store", key, reason);
        sessions.endKey(key, reason);
      });
    } catch (cause) {
      // Not a refusal: the handshake goes on, and the next one tries to subscribe again (warned once).
      if (warnedSubscribe) return;
      warnedSubscribe = true;
      emitWarning(
        "SUBSCRIBE",
        `socket.io-session-auth: store "${store.name}" failed to subscribe (${describeFailure(cause)}); live revocation is off until it succeeds.`,
      );
    }
  }

  function listen(io: Server): void {
    if (listening.has(io)) return;
    listening.add(io);
    // Subscribing takes a moment to become live (SUBSCRIBE round trips, a Cluster's masters): start at
    // attach(), not at the first handshake, so the first sessions' ends are not missed.
    subscribe();
    peers.listen(io);
  }

  async function endSession(
    io: Server,
    sessionId: string,
    code: SessionAuthErrorCode = "SESSION_NOT_FOUND",
  ): Promise<EndResult> {
    checkServer("endSession", io);
    if (typeof sessionId !== "string" || sessionId === "")
      throw new TypeError("endSession: `sessionId` must be the session id (a non-empty string), e.g. req.sessionID.");
    checkCode("endSession", code);
    listen(io);
    // The id the handshakes keyed the session by: another value of the same session reaches its sockets.
    const key = sessionKey(canonicalSessionId(store, sessionId));
    endLocal({ key }, code, "endSession");
    return peers.send(io, { key }, code);
  }

  async function endUser(
    io: Server,
    userId: string | number,
    code: SessionAuthErrorCode = "UNAUTHENTICATED",
  ): Promise<EndResult> {
    checkServer("endUser", io);
    if (
      !(typeof userId === "string" && userId !== "") &&
      !(typeof userId === "number" && Number.isSafeInteger(userId))
    ) {
      throw new TypeError("endUser: `userId` must be a non-empty string or a safe integer, as `identify` returns it.");
    }
    checkCode("endUser", code);
    listen(io);
    const user = String(userId);
    endLocal({ user }, code, "endUser");
    return peers.send(io, { user }, code);
  }

  return {
    subscribe,
    listen,
    endSession,
    endUser,
    close() {
      closed = true;
      unsubscribe?.();
      unsubscribe = undefined;
      peers.close();
    },
  };
}

function isCode(value: unknown): value is SessionAuthErrorCode {
  return typeof value === "string" && (SESSION_AUTH_ERROR_CODES as readonly string[]).includes(value);
}

function checkCode(method: string, code: unknown): void {
  if (!isCode(code))
    throw new TypeError(
      `${method}: \`code\` must be one of ${SESSION_AUTH_ERROR_CODES.join(", ")}; got ${JSON.stringify(code)}.`,
    );
}

function checkServer(method: string, io: unknown): void {
  if (typeof io !== "object" || io === null || typeof (io as Server).of !== "function") {
    throw new TypeError(`${method}: pass the socket.io Server first, e.g. auth.${method}(io, ...).`);
  }
}
