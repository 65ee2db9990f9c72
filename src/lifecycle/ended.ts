import { monotonicNow } from "../clock.js";
import type { SessionAuthError, SessionAuthErrorCode } from "../errors.js";

/**
 * The memory of recent ends, for handshakes and re-reads whose store read was in flight when the
 * session (or its user) ended: a result read before the end is stale, and its socket is ended as it
 * connects. Bounded in time and in count; times are on a clock that never steps back.
 */
export interface EndedMemory {
  /**
   * Remembers that `name` ended now: a session key ended by this app (`"key"`, from `endSession` here or
   * on another node), a user (`"user"`, from `endUser`), or a session key the store reported gone
   * (`"store"`: kept apart, so a busy store cannot crowd out the ends this app asked for). `at` (default
   * now, same clock): when it ended, for an end learned late (a node catching up after a partition).
   */
  remember(kind: EndKind, name: string, reason: SessionAuthError, at?: number): void;
  /** Why the session `key` (or its user) ended at or after `since`, or undefined: a read begun before then is stale. */
  endedSince(key: string, userId: string | null, since: number): SessionAuthError | undefined;
}

export type EndKind = "key" | "user" | "store";

export interface EndedMemoryOptions {
  /** The clock, in milliseconds (default {@link monotonicNow}); `since` values are on the same clock. */
  now?: () => number;
  /** How long an end is remembered, in ms (default 30 000). */
  ttl?: number;
  /** How many ends of each kind are remembered at most (default 10 000); past that the oldest go first. */
  max?: number;
}

interface Ended {
  at: number;
  reason: SessionAuthError;
}

export function createEndedMemory(options: EndedMemoryOptions = {}): EndedMemory {
  const { now = monotonicNow, ttl = 30_000, max = 10_000 } = options;
  const memories: Record<EndKind, Map<string, Ended>> = { key: new Map(), user: new Map(), store: new Map() };
  // The latest `at` ever remembered: no end is at or after a `since` past it, so the common case (nothing
  // ended since this read began) costs one comparison, not three map lookups, twice per handshake.
  let latest = -Infinity;

  function remember(kind: EndKind, name: string, reason: SessionAuthError, at = now()): void {
    const memory = memories[kind];
    const current = now();
    // Re-inserted last: the map stays in time order (an end learned late, with an older `at`, only
    // outlives its time a little, until the ones before it go).
    memory.delete(name);
    memory.set(name, { at, reason });
    if (at > latest) latest = at;
    for (const [oldest, ended] of memory) {
      if (memory.size <= max && current - ended.at < ttl) break;
      memory.delete(oldest);
    }
  }

  function endedSince(key: string, userId: string | null, since: number): SessionAuthError | undefined {
    if (latest < since) return undefined;
    const byKey = memories.key.get(key);
    if (byKey !== undefined && byKey.at >= since) return byKey.reason;
    const inStore = memories.store.get(key);
    if (inStore !== undefined && inStore.at >= since) return inStore.reason;
    const byUser = userId === null ? undefined : memories.user.get(userId);
    if (byUser !== undefined && byUser.at >= since) return byUser.reason;
    return undefined;
  }

  return { remember, endedSince };
}

/** What an end is of: a session (by its key, never its id) or a user. */
export type Target = { readonly key: string } | { readonly user: string };

/** One of this node's own ends, as a peer that missed it is told it. */
export interface SentEnd {
  readonly seq: number;
  readonly target: Target;
  readonly code: SessionAuthErrorCode;
  /** Milliseconds since it was sent, on this node's clock (a peer's clock plays no part). */
  readonly age: number;
}

/**
 * The ends this node sent (endSession / endUser called here) over the last `ttl` ms, numbered 1, 2, …,
 * so a node that missed some (its link to the adapter was down) can ask for them by number.
 */
export interface SentEnds {
  /** Keeps an end sent now; returns its number. */
  record(target: Target, code: SessionAuthErrorCode): number;
  /** The kept ends numbered above `seq`, oldest first. */
  after(seq: number): SentEnd[];
  /** The last number given (0: none yet). */
  readonly seq: number;
  /** The lowest number still kept (`seq + 1` when none is). */
  readonly oldest: number;
  /** Whether one was sent within `ttl`. */
  recent(): boolean;
}

export function createSentEnds(options: EndedMemoryOptions = {}): SentEnds {
  const { now = monotonicNow, ttl = 30_000, max = 10_000 } = options;
  const kept: Array<{ seq: number; at: number; target: Target; code: SessionAuthErrorCode }> = [];
  let seq = 0;

  function prune(): void {
    const current = now();
    let drop = 0;
    while (drop < kept.length && (kept.length - drop > max || current - kept[drop]!.at >= ttl)) drop++;
    if (drop > 0) kept.splice(0, drop);
  }

  return {
    record(target, code) {
      seq += 1;
      kept.push({ seq, at: now(), target, code });
      prune();
      return seq;
    },
    after(from) {
      prune();
      const current = now();
      return kept
        .filter((end) => end.seq > from)
        .map((end) => ({ seq: end.seq, target: end.target, code: end.code, age: current - end.at }));
    },
    get seq() {
      return seq;
    },
    get oldest() {
      prune();
      return kept[0]?.seq ?? seq + 1;
    },
    recent() {
      prune();
      return kept.length > 0;
    },
  };
}
