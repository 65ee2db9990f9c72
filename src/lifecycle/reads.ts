import type { SessionAuthError } from "../errors.js";
import type { EndedMemory } from "./ended.js";
import type { Checked, ReadDone, Settle } from "../pipeline-types.js";

/**
 * Shared handshake reads (DESIGN Core, "Reconnect storms"; issue 22): handshakes of one session that
 * arrive while its store read is in flight wait for that read; a handshake of a session this node
 * follows takes the last good read while it is recent (`sharedReadMaxAge`). Ends win: a shared read
 * that began before an end of the session (or its user) refuses with that end, and an end drops the
 * read in flight, so handshakes after it read afresh. Callbacks, not promises: this is the handshake's
 * hot path (issue 22), and a storm's waiters are answered in one loop.
 */
export interface SharedReads<S extends object> {
  /**
   * The handshake's read of the session `key`: shared when it can be (`done`'s `shared` is then true),
   * else `read()`, which every handshake arriving meanwhile joins.
   */
  share(key: string, read: (settle: Settle<Checked<S>>) => void, done: ReadDone<S>): void;
  /** An end of the session `key`: handshakes from now on do not join the read in flight. */
  forget(key: string): void;
  /** An end of a user (whose sessions are unknown until read): no handshake joins any read in flight. */
  forgetAll(): void;
}

export interface SharedReadsSources<S extends object> {
  ended: EndedMemory;
  /** The session's last good read while it may be shared (see `Sessions.lastRead`). */
  lastRead(key: string): Checked<S> | undefined;
}

export function createSharedReads<S extends object>({ ended, lastRead }: SharedReadsSources<S>): SharedReads<S> {
  // Keyed by sessionKey(id), never by the id: nothing here may hold a bearer secret longer than a read.
  const inFlight = new Map<string, Array<ReadDone<S>>>();

  // A read is handed on only if no end of the session (or its user) came after it began.
  function answer(
    done: ReadDone<S>,
    key: string,
    error: SessionAuthError | undefined,
    checked: Checked<S> | undefined,
    shared: boolean,
  ): void {
    if (error === undefined) error = ended.endedSince(key, checked!.userId, checked!.readAt);
    if (error !== undefined) done(error, undefined, shared);
    else done(undefined, checked, shared);
  }

  function share(key: string, read: (settle: Settle<Checked<S>>) => void, done: ReadDone<S>): void {
    const last = lastRead(key);
    if (last !== undefined) return answer(done, key, undefined, last, true);
    const flight = inFlight.get(key);
    if (flight !== undefined) return void flight.push(done);
    // This handshake reads for everyone who comes while it is in flight; an end during the read refuses
    // it as it refuses them.
    const waiters = [done];
    inFlight.set(key, waiters);
    read((error, checked) => {
      if (inFlight.get(key) === waiters) inFlight.delete(key);
      for (let i = 0; i < waiters.length; i++) {
        try {
          answer(waiters[i]!, key, error, checked, i > 0);
        } catch {
          // Each waiter answers its own handshake (and catches its own failures): one must not stop the others.
        }
      }
    });
  }

  return {
    share,
    forget: (key) => void inFlight.delete(key),
    forgetAll: () => inFlight.clear(),
  };
}
