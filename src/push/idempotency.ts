/**
 * Answers remembered by idempotency key, in this process only: a retry that lands on another node (or
 * after a restart) is not recognised. Entries live `ttl` ms; past `maxKeys` the oldest go first, so the
 * memory stays bounded whatever callers send. No timer: expired entries are dropped as new ones arrive.
 */
export interface IdempotencyCache<T> {
  /** The remembered value, or undefined when the key is new or expired. */
  get(key: string): T | undefined;
  set(key: string, value: T): void;
  delete(key: string): void;
  clear(): void;
  readonly size: number;
}

export function createIdempotencyCache<T>(options: { ttl: number; maxKeys: number; now?: () => number }): IdempotencyCache<T> {
  // A monotonic clock: a wall-clock step back would make entries outlive their ttl.
  const { ttl, maxKeys, now = () => performance.now() } = options;
  // Insertion order is expiry order (every entry lives the same ttl), so the head is always the oldest.
  const entries = new Map<string, { value: T; expires: number }>();

  const sweep = (at: number): void => {
    for (const [key, entry] of entries) {
      if (entry.expires > at) break;
      entries.delete(key);
    }
  };

  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expires <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value) {
      if (maxKeys === 0) return;
      const at = now();
      sweep(at);
      entries.delete(key); // re-inserted at the tail: its expiry is now the latest
      while (entries.size >= maxKeys) entries.delete(entries.keys().next().value!);
      entries.set(key, { value, expires: at + ttl });
    },
    delete(key) {
      entries.delete(key);
    },
    clear() {
      entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
