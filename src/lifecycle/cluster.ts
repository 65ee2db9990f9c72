import type { Server } from "socket.io";
import { SESSION_AUTH_ERROR_CODES, SessionAuthError, type SessionAuthErrorCode } from "../errors.js";
import { describeFailure } from "../internal/describe.js";
import { emitToOtherNodes, onOtherNodes } from "../internal/socketio.js";
import { emitWarning } from "../internal/warn.js";
import { sessionKey } from "../rooms.js";
import type { SessionStore } from "../store.js";
import type { EndedMemory } from "./ended.js";
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
  endSession(io: Server, sessionId: string, code?: SessionAuthErrorCode): Promise<void>;
  endUser(io: Server, userId: string | number, code?: SessionAuthErrorCode): Promise<void>;
  /** Stops the store subscription; the adapter listeners stay (a draining server still honours logouts). */
  close(): void;
}

/** The event nodes exchange through the adapter's `serverSideEmit`. Carries a session key, never an id. */
const END_EVENT = "socket.io-session-auth:end";
const KEY = /^[0-9a-f]{32}$/;

type Target = { key: string } | { user: string };

export function createCluster<S extends object>(
  store: SessionStore<S>,
  sessions: Sessions<S>,
  ended: EndedMemory,
): Cluster {
  const listening = new WeakSet<Server>();
  let unsubscribe: (() => void) | undefined;
  let warnedSubscribe = false;
  let closed = false;

  function endLocal(target: Target, code: SessionAuthErrorCode, by: string): void {
    const reason = new SessionAuthError(code, `Ended by ${by}.`);
    if ("key" in target) {
      ended.remember("key", target.key, reason);
      sessions.endKey(target.key, reason);
    } else {
      ended.remember("user", target.user, reason);
      sessions.endUser(target.user, reason);
    }
  }

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
    onOtherNodes(io, END_EVENT, (payload) => {
      const message = payload as { key?: unknown; user?: unknown; code?: unknown } | null;
      if (typeof message !== "object" || message === null || !isCode(message.code)) return;
      if (typeof message.key === "string" && KEY.test(message.key))
        endLocal({ key: message.key }, message.code, "endSession on another node");
      else if (typeof message.user === "string")
        endLocal({ user: message.user }, message.code, "endUser on another node");
    });
  }

  async function endSession(
    io: Server,
    sessionId: string,
    code: SessionAuthErrorCode = "SESSION_NOT_FOUND",
  ): Promise<void> {
    checkServer("endSession", io);
    if (typeof sessionId !== "string" || sessionId === "")
      throw new TypeError("endSession: `sessionId` must be the session id (a non-empty string), e.g. req.sessionID.");
    checkCode("endSession", code);
    listen(io);
    const key = sessionKey(sessionId);
    endLocal({ key }, code, "endSession");
    // Other nodes hear of it through the adapter; the in-memory adapter has no other node (and would warn).
    emitToOtherNodes(io, END_EVENT, { key, code });
  }

  async function endUser(
    io: Server,
    userId: string | number,
    code: SessionAuthErrorCode = "UNAUTHENTICATED",
  ): Promise<void> {
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
    emitToOtherNodes(io, END_EVENT, { user, code });
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
