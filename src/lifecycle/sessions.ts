import type { Socket } from "socket.io";
import { monotonicNow } from "../clock.js";
import { createTimerHeap, type Scheduled } from "../internal/timer-heap.js";
import { copyReadSession } from "../copy.js";
import { isSessionAuthError, SessionAuthError } from "../errors.js";
import { causeOf } from "../internal/describe.js";
import { log } from "../log.js";
import { publishSocketConnect, publishSocketDisconnect } from "../observe.js";
import type { Checked, Pipeline } from "../pipeline-types.js";
import { createEnder } from "./end.js";
import type { EndedMemory } from "./ended.js";
import { ownString } from "../internal/own-string.js";
import { slotsOf } from "../internal/socket-slot.js";

/**
 * The sessions this node follows: one entry per session with sockets here (costs grow with sessions,
 * not sockets: one store read per interval each, and one timer for all of them), their re-read scheduling
 * (periodic, at the known expiry, held back during an outage), and ending their sockets.
 */
export interface Sessions<S extends object> {
  /** Follows `socket` (connected, `socket.data` set); ends it at once when its session ended after its store read began. */
  track(socket: Socket, sessionId: string, key: string, checked: Checked<S>): void;
  /** Ends one socket the lifecycle's way (once). */
  end(socket: Socket, reason: SessionAuthError): void;
  /** Why the socket was ended, or undefined. */
  endedWith(socket: Socket): SessionAuthError | undefined;
  /**
   * Ends every socket here of the session `key`, or of the user `user`; with `before` (the lifecycle's
   * clock), only those whose handshake read began before it (an end learned late: a socket read after
   * the end would have been accepted on the node that sent it too).
   */
  endKey(key: string, reason: SessionAuthError, before?: number): void;
  endUser(user: string, reason: SessionAuthError, before?: number): void;
  /** Whether `track` was ever called for `socket` (it may have disconnected or been ended since). */
  wasFollowed(socket: Socket): boolean;
  /** The socket's entry; throws why it ended, or a TypeError naming `method` for a socket not followed. */
  entryFor(method: string, socket: Socket): Entry;
  /** Whether `socket` is still on `entry` (not ended, not gone, not moved to another session). */
  holds(entry: Entry, socket: Socket): boolean;
  /** Re-reads the entry's session now (see the function); rejects with the reason it failed. */
  refresh(entry: Entry, forWrite?: boolean): Promise<Checked<S>>;
  /** Takes a session just read or written as the session now (user, authorize, a fresh copy per socket). */
  apply(entry: Entry, checked: Checked<S>): Promise<void>;
  /** Ends every socket of the entry; returns `reason`, to be thrown. */
  endEntry(entry: Entry, reason: SessionAuthError): SessionAuthError;
  /** The next periodic read is one interval from now (after `reload`). */
  restartInterval(entry: Entry): void;
  /**
   * The last good read of the session `key`, for a handshake to share: only while this node follows it
   * (a socket here), the read is younger than `sharedReadMaxAge` and the session's known expiry is ahead.
   */
  lastRead(key: string): Checked<S> | undefined;
  /** Stops every timer; the bookkeeping stays, so ends still reach sockets. */
  close(): void;
}

export interface Entry extends Scheduled {
  readonly sessionId: string;
  /** The cookie name the session came from, for the store's re-reads. */
  readonly cookieName: string | undefined;
  readonly key: string;
  readonly userId: string | null;
  /** Its sockets here: one socket alone, an array of a few, or a Set of many (see `addSocket`). */
  sockets: Socket | Socket[] | Set<Socket> | undefined;
  /** When the store says the session ends (ms since the epoch), or null. */
  expires: number | null;
  /** When the next periodic re-read is due (ms since the epoch); Infinity with `revalidate: false`. */
  nextRead: number;
  /** When the node's timer wakes it (ms since the epoch; see `timers`): a socket joining changes nothing. */
  timerAt: number;
  /** During a store outage: no re-read before this (ms since the epoch), whatever is due. */
  retryAt: number;
  /** `update`s of this session on this node run one after another: they never conflict with each other. */
  writes: Promise<unknown> | undefined;
}

// An entry's sockets (issue 22 item 3): one socket alone, no collection (most sessions have one tab per
// node); an array from the second on, which weighs half a Set of the same size (a session's tabs on one
// node are few); a Set past LISTED_SOCKETS, so that removing one stays cheap for a session with very many.
const LISTED_SOCKETS = 32;

function addSocket(entry: Entry, socket: Socket): void {
  const known = entry.sockets;
  if (known === undefined) entry.sockets = socket;
  else if (Array.isArray(known)) {
    if (known.includes(socket)) return;
    if (known.length < LISTED_SOCKETS) known.push(socket);
    else entry.sockets = new Set([...known, socket]);
  } else if (known instanceof Set) known.add(socket);
  else if (known !== socket) entry.sockets = [known, socket];
}

function removeSocket(entry: Entry, socket: Socket): void {
  const known = entry.sockets;
  if (known === socket) entry.sockets = undefined;
  else if (Array.isArray(known)) {
    const index = known.indexOf(socket);
    if (index < 0) return;
    // Order does not matter: the last takes the removed one's place.
    const last = known.pop()!;
    if (index < known.length) known[index] = last;
    if (known.length === 0) entry.sockets = undefined;
  } else if (known instanceof Set && known.delete(socket) && known.size === 0) entry.sockets = undefined;
}

/** A snapshot of the entry's sockets (safe to end them while iterating). */
function socketsOf(entry: Entry): Socket[] {
  const known = entry.sockets;
  return known === undefined ? [] : Array.isArray(known) ? known.slice() : known instanceof Set ? [...known] : [known];
}

// Re-check a known expiry a moment after it, so the store has surely dropped the record by then.
const EXPIRY_MARGIN_MS = 25;
// During a store outage a re-read is tried again this soon (or at the next interval, if sooner).
const OUTAGE_RETRY_MS = 15_000;
const TIMER_SLACK_MS = 5;

export function createSessions<S extends object>(
  pipeline: Pipeline<S>,
  ended: EndedMemory,
  onTrack: () => void,
): Sessions<S> {
  // Per-socket bookkeeping, per createSessions (two sessionAuth on one namespace each keep their own):
  // the socket's entry, and when its handshake read began (what an end learned late is compared with).
  // The entry slot holds null once the socket is no longer followed (left, ended, refused at track):
  // "followed once" needs no slot of its own (issue 22: fewer properties per socket).
  const ENTRY: unique symbol = Symbol("socket.io-session-auth entry");
  const READ_AT: unique symbol = Symbol("socket.io-session-auth readAt");
  type Slots = { [ENTRY]?: Entry | null; [READ_AT]?: number };
  const entryOf = (socket: Socket): Entry | undefined => slotsOf<Slots>(socket)[ENTRY] ?? undefined;
  const { revalidate, endEvent, onSessionEnd, sharedReadMaxAge } = pipeline.config;
  const entries = new Map<string, Entry>();
  // The last good read of each followed session while it is recent, oldest first; one sweep timer for
  // all, so an idle session does not keep its record in memory beyond sharedReadMaxAge.
  const recent = new Map<Entry, Checked<S>>();
  let sweeper: NodeJS.Timeout | undefined;
  // A user's entry, or a Set of them once the user has several sessions here (most have one).
  const byUser = new Map<string, Entry | Set<Entry>>();
  const ender = createEnder({ endEvent, onSessionEnd, release: untrack });
  let closed = false;
  // One timer for every session followed here (issue 22): each entry is due at its next re-read or expiry re-check.
  const timers = createTimerHeap<Entry>((entry) => void onTimer(entry));

  function track(socket: Socket, sessionId: string, key: string, checked: Checked<S>): void {
    const slots = slotsOf<Slots>(socket);
    // Not followed, yet seen here: null, where a followed socket gets its entry (one store either way).
    if (!socket.connected || ender.endedWith(socket) !== undefined) return void (slots[ENTRY] ??= null);
    const stale = ended.endedSince(key, checked.userId, checked.readAt);
    if (stale !== undefined) {
      slots[ENTRY] ??= null;
      return ender.end(socket, stale);
    }
    onTrack();
    let entry = entries.get(key);
    if (entry !== undefined && entry.userId !== checked.userId) {
      // The session now belongs to someone else: its older sockets here must not stay as the other person.
      endEntry(entry, new SessionAuthError("UNAUTHENTICATED", "The session now identifies another user (or none)."));
      entry = undefined;
    }
    if (entry === undefined) {
      entry = {
        sessionId: ownString(sessionId),
        // Its own string too: the key is sliced from the id's 64-digit SHA-256 hex, which the slice keeps.
        key: ownString(key),
        cookieName: checked.cookieName,
        userId: checked.userId,
        sockets: undefined,
        expires: checked.expires,
        // Spread over the second half of the first interval: a reconnect storm does not re-read all at once.
        nextRead:
          revalidate === null
            ? Number.POSITIVE_INFINITY
            : Date.now() + Math.round(revalidate * (0.5 + Math.random() / 2)),
        timerAt: 0,
        heapIndex: -1,
        retryAt: 0,
        writes: undefined,
      };
      entries.set(entry.key, entry);
      if (checked.userId !== null) {
        const known = byUser.get(checked.userId);
        byUser.set(
          checked.userId,
          known === undefined ? entry : known instanceof Set ? known.add(entry) : new Set([known, entry]),
        );
      }
    } else {
      entry.expires = checked.expires;
    }
    addSocket(entry, socket);
    publishSocketConnect(socket);
    slots[READ_AT] = checked.readAt;
    keepRead(entry, checked);
    slots[ENTRY] = entry;
    // One listener function for every socket (no closure per socket); untrack() runs once either way.
    socket.on("disconnect", onDisconnect);
    schedule(entry);
  }

  function onDisconnect(this: Socket): void {
    untrack(this);
  }

  function untrack(socket: Socket): void {
    const entry = entryOf(socket);
    if (entry === undefined) return;
    slotsOf<Slots>(socket)[ENTRY] = null;
    removeSocket(entry, socket);
    publishSocketDisconnect(socket);
    if (entry.sockets !== undefined) return;
    timers.delete(entry);
    recent.delete(entry);
    if (entries.get(entry.key) === entry) entries.delete(entry.key);
    if (entry.userId !== null) {
      const known = byUser.get(entry.userId);
      if (known === entry) byUser.delete(entry.userId);
      else if (known instanceof Set) {
        known.delete(entry);
        if (known.size === 0) byUser.delete(entry.userId);
      }
    }
  }

  function schedule(entry: Entry): void {
    const due =
      closed || entry.sockets === undefined
        ? Number.POSITIVE_INFINITY
        : Math.min(
            entry.nextRead,
            entry.expires === null ? Number.POSITIVE_INFINITY : entry.expires + EXPIRY_MARGIN_MS,
          );
    // During an outage an expiry already past stays due: without retryAt this would re-read in a loop.
    const at = Math.max(due, entry.retryAt);
    // Another socket of a followed session changes nothing (issue 22: no timer work per socket).
    if (at === Number.POSITIVE_INFINITY) timers.delete(entry);
    else timers.set(entry, at);
  }

  async function onTimer(entry: Entry): Promise<void> {
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
  async function refresh(entry: Entry, forWrite = false): Promise<Checked<S>> {
    let checked: Checked<S>;
    try {
      checked = await pipeline.reread(entry.sessionId, forWrite, entry.cookieName);
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
      throw endOver(entry, expired ? new SessionAuthError("SESSION_EXPIRED", "The session expired.") : reason);
    }
    entry.retryAt = 0;
    await apply(entry, checked);
    return checked;
  }

  /**
   * A session just read (or written) is the session now: it must still be the entry's user's, and
   * `authorize` must still accept each socket (one refused is ended alone); each socket gets a copy of its
   * own, and `authorize` sees that copy (as at an `io.use` handshake), so what it changes reaches no other
   * socket, nor the read kept for sharing.
   */
  async function apply(entry: Entry, checked: Checked<S>): Promise<void> {
    if (checked.userId !== entry.userId) {
      throw endOver(
        entry,
        new SessionAuthError(
          "UNAUTHENTICATED",
          "The session now identifies another user (or none): logged out, or logged in as someone else.",
        ),
      );
    }
    entry.expires = checked.expires;
    keepRead(entry, checked);
    await Promise.all(
      socketsOf(entry).map(async (socket) => {
        const session = copyReadSession(checked);
        try {
          await pipeline.authorize(session, checked.userId, socket.handshake);
        } catch (error) {
          // Not a socket that left on its own meanwhile.
          if (entryOf(socket) === entry) ender.end(socket, error as SessionAuthError);
          return;
        }
        if (entryOf(socket) === entry) socket.data.session = session;
      }),
    );
  }

  /**
   * A re-read found the session over: remembered as an end, so a handshake whose read (its own or a
   * shared one) began before it is refused too, then every socket here is ended.
   */
  function endOver(entry: Entry, reason: SessionAuthError): SessionAuthError {
    ended.remember("store", entry.key, reason);
    return endEntry(entry, reason);
  }

  function keepRead(entry: Entry, checked: Checked<S>): void {
    if (sharedReadMaxAge === null || closed || entries.get(entry.key) !== entry || entry.sockets === undefined) return;
    const known = recent.get(entry);
    if (known !== undefined && known.readAt >= checked.readAt) return;
    if (monotonicNow() - checked.readAt >= sharedReadMaxAge) return;
    recent.delete(entry); // re-inserted last: the map stays oldest first
    recent.set(entry, checked);
    if (sweeper === undefined) sweepIn(sharedReadMaxAge);
  }

  function sweepIn(ms: number): void {
    sweeper = setTimeout(sweep, Math.max(1, Math.ceil(ms)));
    sweeper.unref();
  }

  function sweep(): void {
    sweeper = undefined;
    const now = monotonicNow();
    for (const [entry, checked] of recent) {
      const age = now - checked.readAt;
      if (age < sharedReadMaxAge!) return sweepIn(sharedReadMaxAge! - age);
      recent.delete(entry);
    }
  }

  function lastRead(key: string): Checked<S> | undefined {
    if (sharedReadMaxAge === null) return undefined;
    const entry = entries.get(key);
    const checked = entry === undefined ? undefined : recent.get(entry);
    if (checked === undefined || monotonicNow() - checked.readAt >= sharedReadMaxAge) return undefined;
    if (checked.expires !== null && !(checked.expires > Date.now())) return undefined;
    return checked;
  }

  function endEntry(entry: Entry, reason: SessionAuthError): SessionAuthError {
    for (const socket of socketsOf(entry)) ender.end(socket, reason);
    return reason;
  }

  function endBefore(entry: Entry, reason: SessionAuthError, before: number | undefined): void {
    if (before === undefined) return void endEntry(entry, reason);
    for (const socket of socketsOf(entry))
      if ((slotsOf<Slots>(socket)[READ_AT] ?? Number.NEGATIVE_INFINITY) < before) ender.end(socket, reason);
  }

  function entryFor(method: string, socket: Socket): Entry {
    const entry = entryOf(socket);
    if (entry !== undefined) return entry;
    const reason = ender.endedWith(socket);
    if (reason !== undefined) throw reason;
    throw new TypeError(`${method}: this socket was not authenticated by this sessionAuth (or has disconnected).`);
  }

  return {
    track,
    end: ender.end,
    endedWith: ender.endedWith,
    endKey(key, reason, before) {
      const entry = entries.get(key);
      if (entry !== undefined) endBefore(entry, reason, before);
    },
    endUser(user, reason, before) {
      const known = byUser.get(user);
      const entries = known === undefined ? [] : known instanceof Set ? [...known] : [known];
      for (const entry of entries) endBefore(entry, reason, before);
    },
    entryFor,
    wasFollowed: (socket) => slotsOf<Slots>(socket)[ENTRY] !== undefined,
    holds: (entry, socket) => entryOf(socket) === entry,
    refresh,
    apply,
    endEntry,
    lastRead,
    restartInterval(entry) {
      if (revalidate !== null) entry.nextRead = Date.now() + revalidate;
      schedule(entry);
    },
    close() {
      closed = true;
      clearTimeout(sweeper);
      sweeper = undefined;
      recent.clear();
      timers.clear();
    },
  };
}
