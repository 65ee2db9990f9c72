import type { Server, Socket } from "socket.io";
import { monotonicNow } from "../clock.js";
import { copySession } from "../copy.js";
import { SessionAuthError, type SessionAuthErrorCode } from "../errors.js";
import type { Checked, Pipeline, ReadShare } from "../pipeline-types.js";
import type { EndResult } from "../types.js";
import { createCluster } from "./cluster.js";
import { createEndedMemory, type EndedMemory } from "./ended.js";
import { createSharedReads } from "./reads.js";
import { createSessions, type Entry } from "./sessions.js";

/**
 * The session lifecycle on one node: which sessions its sockets hang on, when each is re-read, and how a
 * session's end reaches its sockets (here, and on the other nodes through socket.io's adapter). Composed
 * of the sessions this node follows (sessions.ts), the ending of a socket (end.ts), the memory of recent
 * ends (ended.ts) and the ends that come from elsewhere (cluster.ts); `reload`, `update` and `close` are here.
 */
export interface Lifecycle<S extends object> {
  /**
   * Follows the session for a socket that socket.io has just connected (its `socket.data` is already
   * set). Ends it at once when its session was ended after its store read began.
   */
  track(socket: Socket, sessionId: string, key: string, checked: Checked<S>): void;
  /** The handshake's store read of the session `key`, shared when it can be (reads.ts). */
  share: ReadShare<S>;
  /** Whether the session (by its key) or its user was ended after `since`: a result read before then is stale. */
  endedSince(key: string, userId: string | null, since: number): SessionAuthError | undefined;
  /** Ends one socket the lifecycle's way: the end event, a server-side disconnect, `onSessionEnd`. */
  end(socket: Socket, reason: SessionAuthError): void;
  /** Listens on `io` for ends sent by other nodes (once per server). */
  listen(io: Server): void;
  endSession(io: Server, sessionId: string, code?: SessionAuthErrorCode): Promise<EndResult>;
  endUser(io: Server, userId: string | number, code?: SessionAuthErrorCode): Promise<EndResult>;
  reload(socket: Socket): Promise<S>;
  update(socket: Socket, mutate: (session: S) => void | Promise<void>): Promise<S>;
  close(): Promise<void>;
}

const UPDATE_ATTEMPTS = 5;

function disconnected(method: "reload" | "update", nothing: string): SessionAuthError {
  return new SessionAuthError(
    "SOCKET_DISCONNECTED",
    `${method}: the socket has disconnected (its tab closed or its connection dropped); nothing ${nothing}.`,
  );
}

export function createLifecycle<S extends object>(pipeline: Pipeline<S>): Lifecycle<S> {
  const { store } = pipeline.config;
  const memory = createEndedMemory();
  // Every end goes through remember(): the reads in flight that it makes stale are shared no more.
  const ended: EndedMemory = {
    endedSince: memory.endedSince,
    remember(kind, name, reason) {
      memory.remember(kind, name, reason);
      if (kind === "user") reads.forgetAll();
      else reads.forget(name);
    },
  };
  const sessions = createSessions(pipeline, ended, () => cluster.subscribe());
  const reads = createSharedReads({ ended, lastRead: sessions.lastRead });
  const cluster = createCluster(store, sessions, ended);

  function entryFor(method: "reload" | "update", socket: Socket): Entry {
    try {
      return sessions.entryFor(method, socket);
    } catch (error) {
      // Once a followed socket has disconnected, reload/update on it reject SOCKET_DISCONNECTED (a code
      // handlers can match, issue 18 item 5); a socket this auth never authenticated stays a TypeError.
      if (error instanceof TypeError && sessions.wasFollowed(socket)) throw disconnected(method, "was read");
      throw error;
    }
  }

  async function reload(socket: Socket): Promise<S> {
    const entry = entryFor("reload", socket);
    await sessions.refresh(entry);
    sessions.restartInterval(entry);
    return sessionOf(socket);
  }

  function sessionOf(socket: Socket): S {
    const reason = sessions.endedWith(socket);
    if (reason !== undefined) throw reason;
    return socket.data.session as S;
  }

  async function update(socket: Socket, mutate: (session: S) => void | Promise<void>): Promise<S> {
    if (typeof store.compareAndSet !== "function") {
      throw new TypeError(
        `update: store "${store.name}" cannot write a session back (it has no compareAndSet).` +
          (typeof store.updateUnsupported === "string"
            ? ` ${store.updateUnsupported}`
            : store.name.startsWith("cookie")
              ? " A cookie session lives in the browser, which holds the only copy: change it in an HTTP request, where the session middleware sets the new cookie (have the page call an endpoint)."
              : ""),
      );
    }
    if (typeof mutate !== "function")
      throw new TypeError("update: `mutate` must be a function (session) => void, changing the session it is given.");
    const entry = entryFor("update", socket);
    const run = (entry.writes ?? Promise.resolve()).then(() => write(entry, socket, mutate));
    entry.writes = run.catch(() => {});
    return run;
  }

  /** The compare-and-set loop: read, mutate a copy, write only if unchanged; retried on conflict. */
  async function write(entry: Entry, socket: Socket, mutate: (session: S) => void | Promise<void>): Promise<S> {
    // The socket must still be on this session at each step: a socket ended (or gone) meanwhile writes nothing.
    const stillHere = (): void => {
      if (sessions.holds(entry, socket)) return;
      throw sessions.endedWith(socket) ?? disconnected("update", "was written");
    };
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      stillHere();
      const fresh = await sessions.refresh(entry, true);
      stillHere();
      const draft = copySession(fresh.session);
      await mutate(draft);
      stillHere();
      if (await pipeline.write(entry.sessionId, fresh.record?.revision, draft)) {
        // What was written is the session now: the same checks as a re-read (user, authorize).
        let saved: Checked<S>;
        try {
          saved = pipeline.check(
            { session: draft, expires: fresh.expires === null ? null : new Date(fresh.expires) },
            monotonicNow(),
          );
        } catch (error) {
          throw sessions.endEntry(entry, error as SessionAuthError);
        }
        await sessions.apply(entry, saved);
        // Written: resolve what was written even if the socket left meanwhile (a caller that retried on
        // "nothing was written" would write twice).
        return sessions.holds(entry, socket) ? (socket.data.session as S) : copySession(draft);
      }
      // Another writer (the web app, another node) got in between: back off a little, then read again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
    }
    throw new SessionAuthError(
      "SESSION_CONFLICT",
      `The session kept changing under update() (${UPDATE_ATTEMPTS} attempts); nothing was written by the last one.`,
    );
  }

  return {
    track: sessions.track,
    share: reads.share,
    endedSince: ended.endedSince,
    end: sessions.end,
    listen: cluster.listen,
    endSession: cluster.endSession,
    endUser: cluster.endUser,
    reload,
    update,
    // Stops what runs by itself (timers, the store subscription). The bookkeeping stays, so endSession,
    // endUser (from this node or another) and the push router's /disconnect still end sockets while the
    // server drains: logouts keep coming during a graceful shutdown.
    async close() {
      sessions.close();
      cluster.close();
    },
  };
}
