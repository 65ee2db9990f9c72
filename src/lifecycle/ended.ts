import { monotonicNow } from "../clock.js";
import type { SessionAuthError } from "../errors.js";

/**
 * The memory of recent ends, for handshakes and re-reads whose store read was in flight when the
 * session (or its user) ended: a result read before the end is stale, and its socket is ended as it
 * connects. Bounded in time and in count; times are on a clock that never steps back.
 */
export interface EndedMemory {
  /**
   * Remembers that `name` ended now: a session key ended by this app (`"key"`, from `endSession` here or
   * on another node), a user (`"user"`, from `endUser`), or a session key the store reported gone
   * (`"store"`: kept apart, so a busy store cannot crowd out the ends this app asked for).
   */
  remember(kind: EndKind, name: string, reason: SessionAuthError): void;
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

  function remember(kind: EndKind, name: string, reason: SessionAuthError): void {
    const memory = memories[kind];
    const at = now();
    memory.delete(name); // re-inserted last: the map stays in time order
    memory.set(name, { at, reason });
    for (const [oldest, ended] of memory) {
      if (memory.size <= max && at - ended.at < ttl) break;
      memory.delete(oldest);
    }
  }

  function endedSince(key: string, userId: string | null, since: number): SessionAuthError | undefined {
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
