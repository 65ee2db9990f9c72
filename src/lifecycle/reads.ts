import type { EndedMemory } from "./ended.js";
import type { Checked } from "../pipeline.js";

/**
 * Shared handshake reads (DESIGN Core, "Reconnect storms"; issue 22): handshakes of one session that
 * arrive while its store read is in flight wait for that read; a handshake of a session this node
 * follows takes the last good read while it is recent (`sharedReadMaxAge`). Ends win: a shared read
 * that began before an end of the session (or its user) refuses with that end, and an end drops the
 * read in flight, so handshakes after it read afresh.
 */
export interface SharedReads<S extends object> {
  /** The handshake's read of the session `key`: shared when it can be, else `read()`. */
  share(key: string, read: () => Promise<Checked<S>>): Promise<Checked<S>>;
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
  const inFlight = new Map<string, Promise<Checked<S>>>();

  function fresh(checked: Checked<S>, key: string): Checked<S> {
    const stale = ended.endedSince(key, checked.userId, checked.readAt);
    if (stale !== undefined) throw stale;
    return checked;
  }

  async function share(key: string, read: () => Promise<Checked<S>>): Promise<Checked<S>> {
    const last = lastRead(key);
    if (last !== undefined) return fresh(last, key);
    const flight = inFlight.get(key);
    if (flight !== undefined) return fresh(await flight, key);
    // This handshake reads for everyone who comes while it is in flight; an end during the read refuses
    // it as it refuses them.
    const mine = read();
    inFlight.set(key, mine);
    const done = (): void => {
      if (inFlight.get(key) === mine) inFlight.delete(key);
    };
    mine.then(done, done);
    return fresh(await mine, key);
  }

  return {
    share,
    forget: (key) => void inFlight.delete(key),
    forgetAll: () => inFlight.clear(),
  };
}
