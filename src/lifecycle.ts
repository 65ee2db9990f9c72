import type { Server, Socket } from "socket.io";
import type { Checked, Pipeline } from "./auth.js";
import { causeOf, describeFailure } from "./auth.js";
import { MAX_TIMEOUT_MS } from "./config.js";
import { monotonicNow } from "./clock.js";
import { copySession } from "./copy.js";
import { isSessionAuthError, SESSION_AUTH_ERROR_CODES, SessionAuthError, type SessionAuthErrorCode } from "./errors.js";
import { log } from "./log.js";
import { sessionKey } from "./rooms.js";

/**
 * The session lifecycle on one node: which sessions its sockets hang on, when each is re-read, and how a
 * session's end reaches its sockets (here, and on the other nodes through socket.io's adapter).
 *
 * Costs grow with sessions, not sockets: one entry, one timer and one store read per interval for all
 * the sockets of a session on this node.
 */
export interface Lifecycle<S extends object> {
  /**
   * Follows the session for a socket that socket.io has just connected (its `socket.data` is already
   * set). Ends it at once when its session was ended after its store read began.
   */
  track(socket: Socket, sessionId: string, key: string, checked: Checked<S>): void;
  /** Whether the session (by its key) or its user was ended after `since`: a result read before then is stale. */
  endedSince(key: string, userId: string | null, since: number): SessionAuthError | undefined;
  /** Ends one socket the lifecycle's way: the end event, a server-side disconnect, `onSessionEnd`. */
  end(socket: Socket, reason: SessionAuthError): void;
  /** Listens on `io` for ends sent by other nodes (once per server). */
  listen(io: Server): void;
  endSession(io: Server, sessionId: string, code?: SessionAuthErrorCode): Promise<void>;
  endUser(io: Server, userId: string | number, code?: SessionAuthErrorCode): Promise<void>;
  reload(socket: Socket): Promise<S>;
  update(socket: Socket, mutate: (session: S) => void | Promise<void>): Promise<S>;
  close(): Promise<void>;
}

interface Entry {
  readonly sessionId: string;
  /** The cookie name the session came from, for the store's re-reads. */
  readonly cookieName: string | undefined;
  readonly key: string;
  readonly userId: string | null;
  readonly sockets: Set<Socket>;
  /** When the store says the session ends (ms since the epoch), or null. */
  expires: number | null;
  /** When the next periodic re-read is due (ms since the epoch); Infinity with `revalidate: false`. */
  nextRead: number;
  timer: NodeJS.Timeout | undefined;
  /** During a store outage: no re-read before this (ms since the epoch), whatever is due. */
  retryAt: number;
  /** `update`s of this session on this node run one after another: they never conflict with each other. */
  writes: Promise<unknown> | undefined;
}

interface Ended {
  at: number;
  reason: SessionAuthError;
}

/** The event nodes exchange through the adapter's `serverSideEmit`. Carries a session key, never an id. */
const END_EVENT = "socket.io-session-auth:end";
// Re-check a known expiry a moment after it, so the store has surely dropped the record by then.
const EXPIRY_MARGIN_MS = 25;
// During a store outage a re-read is tried again this soon (or at the next interval, if sooner).
const OUTAGE_RETRY_MS = 15_000;
const UPDATE_ATTEMPTS = 5;
const TIMER_SLACK_MS = 5;
// How long the end event may take to leave before the socket is disconnected anyway.
const END_FLUSH_TIMEOUT_MS = 2_000;
// Ends are remembered this long (and at most this many), for handshakes whose store read was in flight
// when the session ended: their result is stale, and they are ended as they connect.
const ENDED_MEMORY_MS = 30_000;
const ENDED_MEMORY_MAX = 10_000;
const KEY = /^[0-9a-f]{32}$/;

export function createLifecycle<S extends object>(pipeline: Pipeline<S>): Lifecycle<S> {
  const { store, revalidate, endEvent, onSessionEnd } = pipeline.config;
  const entries = new Map<string, Entry>();
  const byUser = new Map<string, Set<Entry>>();
  const entryOf = new WeakMap<Socket, Entry>();
  const endedWith = new WeakMap<Socket, SessionAuthError>();
  const listening = new Map<Server, (payload: unknown) => void>();
  const endedKeys = new Map<string, Ended>();
  const endedUsers = new Map<string, Ended>();
  // Store events come for every session of the store, most with no socket here: kept apart, so a busy
  // store cannot crowd out the ends this app asked for.
  const endedInStore = new Map<string, Ended>();
  let unsubscribe: (() => void) | undefined;
  let warnedSubscribe = false;
  let closed = false;

  function track(socket: Socket, sessionId: string, key: string, checked: Checked<S>): void {
    if (!socket.connected || endedWith.has(socket)) return;
    const stale = endedSince(key, checked.userId, checked.readAt);
    if (stale !== undefined) return endSocket(socket, stale);
    subscribe();
    let entry = entries.get(key);
    if (entry !== undefined && entry.userId !== checked.userId) {
      // The session now belongs to someone else: its older sockets here must not stay as the other person.
      endEntry(entry, new SessionAuthError("UNAUTHENTICATED", "The session now identifies another user (or none)."));
      entry = undefined;
    }
    if (entry === undefined) {
      entry = {
        sessionId,
        cookieName: checked.cookieName,
        key,
        userId: checked.userId,
        sockets: new Set(),
        expires: checked.expires,
        // Spread over the second half of the first interval: a reconnect storm does not re-read all at once.
        nextRead:
          revalidate === null
            ? Number.POSITIVE_INFINITY
            : Date.now() + Math.round(revalidate * (0.5 + Math.random() / 2)),
        timer: undefined,
        retryAt: 0,
        writes: undefined,
      };
      entries.set(key, entry);
      if (checked.userId !== null) {
        const set = byUser.get(checked.userId) ?? new Set<Entry>();
        byUser.set(checked.userId, set.add(entry));
      }
    } else {
      entry.expires = checked.expires;
    }
    entry.sockets.add(socket);
    entryOf.set(socket, entry);
    socket.once("disconnect", () => untrack(socket));
    schedule(entry);
  }

  function endedSince(key: string, userId: string | null, since: number): SessionAuthError | undefined {
    const byKey = endedKeys.get(key);
    if (byKey !== undefined && byKey.at >= since) return byKey.reason;
    const inStore = endedInStore.get(key);
    if (inStore !== undefined && inStore.at >= since) return inStore.reason;
    const byId = userId === null ? undefined : endedUsers.get(userId);
    if (byId !== undefined && byId.at >= since) return byId.reason;
    return undefined;
  }

  function remember(memory: Map<string, Ended>, name: string, reason: SessionAuthError): void {
    const now = monotonicNow();
    memory.delete(name); // re-inserted last: the map stays in time order
    memory.set(name, { at: now, reason });
    for (const [oldest, ended] of memory) {
      if (memory.size <= ENDED_MEMORY_MAX && now - ended.at < ENDED_MEMORY_MS) break;
      memory.delete(oldest);
    }
  }

  function untrack(socket: Socket): void {
    const entry = entryOf.get(socket);
    if (entry === undefined) return;
    entryOf.delete(socket);
    entry.sockets.delete(socket);
    if (entry.sockets.size > 0) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entries.get(entry.key) === entry) entries.delete(entry.key);
    if (entry.userId !== null) {
      const set = byUser.get(entry.userId);
      set?.delete(entry);
      if (set?.size === 0) byUser.delete(entry.userId);
    }
  }

  function schedule(entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (closed || entry.sockets.size === 0) return;
    const due = Math.min(
      entry.nextRead,
      entry.expires === null ? Number.POSITIVE_INFINITY : entry.expires + EXPIRY_MARGIN_MS,
    );
    if (due === Number.POSITIVE_INFINITY) return;
    // During an outage an expiry already past stays due: without retryAt this would re-read in a loop.
    const delay = Math.max(0, Math.min(Math.max(due, entry.retryAt) - Date.now(), MAX_TIMEOUT_MS));
    entry.timer = setTimeout(() => void onTimer(entry), delay);
    entry.timer.unref();
  }

  async function onTimer(entry: Entry): Promise<void> {
    entry.timer = undefined;
    // Due (or overdue after an outage): the next periodic read is one interval on, or never.
    // Timers may fire a millisecond early: within TIMER_SLACK_MS the read counts as the one due, or it
    // would be read again at once.
    if (Date.now() + TIMER_SLACK_MS >= entry.nextRead)
      entry.nextRead = revalidate === null ? Number.POSITIVE_INFINITY : Date.now() + revalidate;
    try {
      await refresh(entry);
    } catch {
      // Ended (and logged) inside refresh, or an outage that keeps the sockets: nothing to add here.
    }
    schedule(entry);
  }

  /**
   * Re-reads the entry's session. On success every socket gets a fresh copy (or is ended alone, when
   * `authorize` now refuses it). A session that is over ends all its sockets here; an outage ends nothing
   * and brings the next try closer. Rejects with the reason either way.
   */
  async function refresh(entry: Entry): Promise<Checked<S>> {
    let checked: Checked<S>;
    try {
      checked = await pipeline.reread(entry.sessionId, entry.cookieName);
    } catch (error) {
      const reason = isSessionAuthError(error)
        ? error
        : new SessionAuthError("FORBIDDEN", "Unexpected failure while re-reading the session.", { cause: error });
      if (reason.code === "STORE_UNAVAILABLE") {
        log("kept a session's sockets through a store outage: %s%s", reason.message, causeOf(reason));
        // Not before a while (jittered, so sessions do not all retry at once), however overdue.
        const wait = Math.round(Math.min(OUTAGE_RETRY_MS, revalidate ?? OUTAGE_RETRY_MS) * (0.75 + Math.random() / 4));
        entry.retryAt = Date.now() + wait;
        // With periodic re-reads, the retry is one of them; without, only an overdue expiry re-check
        // retries (schedule() holds it back until retryAt).
        if (revalidate !== null) entry.nextRead = Math.min(entry.nextRead, entry.retryAt);
        throw reason;
      }
      // A record gone at or after its known expiry expired, whoever removed it.
      const expired = reason.code === "SESSION_NOT_FOUND" && entry.expires !== null && Date.now() >= entry.expires;
      throw endEntry(entry, expired ? new SessionAuthError("SESSION_EXPIRED", "The session expired.") : reason);
    }
    entry.retryAt = 0;
    await apply(entry, checked);
    return checked;
  }

  /**
   * A session just read (or written) is the session now: it must still be the entry's user's, and
   * `authorize` must still accept each socket (one refused is ended alone); the others get a fresh copy.
   */
  async function apply(entry: Entry, checked: Checked<S>): Promise<void> {
    if (checked.userId !== entry.userId) {
      throw endEntry(
        entry,
        new SessionAuthError(
          "UNAUTHENTICATED",
          "The session now identifies another user (or none): logged out, or logged in as someone else.",
        ),
      );
    }
    entry.expires = checked.expires;
    await Promise.all(
      [...entry.sockets].map(async (socket) => {
        try {
          await pipeline.authorize(checked.session, checked.userId, socket.handshake);
        } catch (error) {
          // Not a socket that left on its own meanwhile.
          if (entryOf.get(socket) === entry) endSocket(socket, error as SessionAuthError);
          return;
        }
        if (entryOf.get(socket) === entry) socket.data.session = copySession(checked.session);
      }),
    );
  }

  function endEntry(entry: Entry, reason: SessionAuthError): SessionAuthError {
    for (const socket of [...entry.sockets]) endSocket(socket, reason);
    return reason;
  }

  function endSocket(socket: Socket, reason: SessionAuthError): void {
    if (endedWith.has(socket)) return;
    endedWith.set(socket, reason);
    untrack(socket);
    const done = (): void => {
      log("ended a socket (%s): %s%s", reason.code, reason.message, causeOf(reason));
      if (onSessionEnd === undefined) return;
      try {
        onSessionEnd(reason, socket);
      } catch (error) {
        log("onSessionEnd threw: %s", describeFailure(error));
      }
    };
    if (!socket.connected) return done();
    // Server-side: socket.io's client does not reconnect by itself; the page decides to log in again.
    if (endEvent === null) {
      socket.disconnect();
      return done();
    }
    // With connectionStateRecovery, socket.emit() goes through the adapter to get an offset, and a
    // cluster adapter (streams) delivers it only after a round trip to Redis: disconnecting at once would
    // overtake the event. Disconnect once the event is written (or after a bounded wait).
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      socket.offAnyOutgoing(written);
      clearTimeout(timer);
      socket.disconnect();
      done();
    };
    // socket.io tells outgoing listeners just before it writes the packet: disconnect right after.
    const written = (event: string): void => {
      if (event === endEvent) process.nextTick(finish);
    };
    socket.onAnyOutgoing(written);
    const timer = setTimeout(finish, END_FLUSH_TIMEOUT_MS);
    timer.unref();
    socket.emit(endEvent, { code: reason.code });
  }

  function endLocal(target: { key: string } | { user: string }, code: SessionAuthErrorCode, by: string): void {
    const reason = new SessionAuthError(code, `Ended by ${by}.`);
    // Remembered too, for handshakes whose store read is in flight here: they are ended as they connect.
    if ("key" in target) {
      remember(endedKeys, target.key, reason);
      const entry = entries.get(target.key);
      if (entry !== undefined) endEntry(entry, reason);
    } else {
      remember(endedUsers, target.user, reason);
      for (const entry of [...(byUser.get(target.user) ?? [])]) endEntry(entry, reason);
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
        remember(endedInStore, key, reason);
        const entry = entries.get(key);
        if (entry !== undefined) endEntry(entry, reason);
      });
    } catch (cause) {
      // Not a refusal: the handshake goes on, and the next one tries to subscribe again (warned once).
      if (warnedSubscribe) return;
      warnedSubscribe = true;
      process.emitWarning(
        `socket.io-session-auth: store "${store.name}" failed to subscribe (${describeFailure(cause)}); live revocation is off until it succeeds.`,
      );
    }
  }

  function listen(io: Server): void {
    if (listening.has(io)) return;
    // Subscribing takes a moment to become live (SUBSCRIBE round trips, a Cluster's masters): start at
    // attach(), not at the first handshake, so the first sessions' ends are not missed.
    subscribe();
    const handler = (payload: unknown): void => {
      const message = payload as { key?: unknown; user?: unknown; code?: unknown } | null;
      if (typeof message !== "object" || message === null || !isCode(message.code)) return;
      if (typeof message.key === "string" && KEY.test(message.key))
        endLocal({ key: message.key }, message.code, "endSession on another node");
      else if (typeof message.user === "string")
        endLocal({ user: message.user }, message.code, "endUser on another node");
    };
    listening.set(io, handler);
    (io.of("/") as unknown as NodeJS.EventEmitter).on(END_EVENT, handler);
  }

  // Other nodes hear of it through the adapter; the in-memory adapter has no other node (and would warn).
  function broadcast(
    io: Server,
    payload: { key: string; code: SessionAuthErrorCode } | { user: string; code: SessionAuthErrorCode },
  ): void {
    const main = io.of("/");
    if (!hasOtherNodes(main.adapter)) return;
    (main.serverSideEmit as (event: string, ...args: unknown[]) => boolean)(END_EVENT, payload);
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
    broadcast(io, { key, code });
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
    broadcast(io, { user, code });
  }

  function entryFor(method: string, socket: Socket): Entry {
    const entry = entryOf.get(socket);
    if (entry !== undefined) return entry;
    const ended = endedWith.get(socket);
    if (ended !== undefined) throw ended;
    throw new TypeError(`${method}: this socket was not authenticated by this sessionAuth (or has disconnected).`);
  }

  async function reload(socket: Socket): Promise<S> {
    const entry = entryFor("reload", socket);
    await refresh(entry);
    if (revalidate !== null) entry.nextRead = Date.now() + revalidate;
    schedule(entry);
    return sessionOf(socket);
  }

  function sessionOf(socket: Socket): S {
    const ended = endedWith.get(socket);
    if (ended !== undefined) throw ended;
    return socket.data.session as S;
  }

  async function update(socket: Socket, mutate: (session: S) => void | Promise<void>): Promise<S> {
    if (typeof store.compareAndSet !== "function") {
      throw new TypeError(
        `update: store "${store.name}" cannot write a session back (it has no compareAndSet).` +
          (store.name.startsWith("cookie")
            ? " A cookie session lives in the browser, which holds the only copy: change it in an HTTP request, where the session middleware sets the new cookie (have the page call an endpoint)."
            : store.cookie?.signing === "better-auth"
              ? " Better Auth offers no atomic compare-and-set of a session, so a write here could undo a concurrent one: change the session through Better Auth in the web app (auth.api.updateSession, or your own endpoint), then call auth.reload(socket)."
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

  async function write(entry: Entry, socket: Socket, mutate: (session: S) => void | Promise<void>): Promise<S> {
    // The socket must still be on this session at each step: a socket ended (or gone) meanwhile writes nothing.
    const stillHere = (): void => {
      if (entryOf.get(socket) === entry) return;
      throw (
        endedWith.get(socket) ?? new Error("update: the socket disconnected before the write; nothing was written.")
      );
    };
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      stillHere();
      const fresh = await refresh(entry);
      stillHere();
      const draft = copySession(fresh.session);
      await mutate(draft);
      stillHere();
      if (await pipeline.write(entry.sessionId, fresh.revision, draft)) {
        // What was written is the session now: the same checks as a re-read (user, authorize).
        let saved: Checked<S>;
        try {
          saved = pipeline.check(
            { session: draft, expires: fresh.expires === null ? null : new Date(fresh.expires) },
            monotonicNow(),
          );
        } catch (error) {
          throw endEntry(entry, error as SessionAuthError);
        }
        await apply(entry, saved);
        // Written: resolve what was written even if the socket left meanwhile (a caller that retried on
        // "nothing was written" would write twice).
        return entryOf.get(socket) === entry ? (socket.data.session as S) : copySession(draft);
      }
      // Another writer (the web app, another node) got in between: back off a little, then read again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
    }
    throw new SessionAuthError(
      "SESSION_CONFLICT",
      `The session kept changing under update() (${UPDATE_ATTEMPTS} attempts); nothing was written by the last one.`,
    );
  }

  // Stops what runs by itself (timers, the store subscription). The bookkeeping stays, so endSession,
  // endUser (from this node or another) and the push router's /disconnect still end sockets while the
  // server drains: logouts keep coming during a graceful shutdown.
  async function close(): Promise<void> {
    closed = true;
    for (const entry of entries.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    unsubscribe?.();
    unsubscribe = undefined;
  }

  return { track, endedSince, end: endSocket, listen, endSession, endUser, reload, update, close };
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

/**
 * Whether the namespace's adapter reaches other nodes: socket.io's in-memory `Adapter` keeps the base
 * `serverSideEmit`, which only warns; every cluster adapter (redis, sharded, streams, cluster, mongo)
 * overrides it.
 */
function hasOtherNodes(adapter: object): boolean {
  let proto: object | null = Object.getPrototypeOf(adapter) as object | null;
  while (proto !== null && !Object.hasOwn(proto, "serverSideEmit"))
    proto = Object.getPrototypeOf(proto) as object | null;
  if (proto === null) return false;
  const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  return name !== "Adapter" && name !== "SessionAwareAdapter";
}
