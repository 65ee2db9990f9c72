/** What {@link rejectUnknownOptions} says about a key it does not know. */
export interface UnknownOptionHelp {
  /** Likely mistakes → the right name: the message asks "did you mean" it. */
  hints?: Readonly<Record<string, string>>;
  /** Keys that need more than a name → what to do instead, said after the key in the message. */
  notes?: Readonly<Record<string, string>>;
  /** Options that existed and were removed → why, and what to do instead: the message says the key "was removed", then this. */
  removed?: Readonly<Record<string, string>>;
  /** Prefixes the key of a nested option object (`idempotency.`). */
  path?: string;
}

/**
 * Throws a TypeError for the first key of `options` that `known` does not list: a misspelt (or removed)
 * option would otherwise be ignored in silence. `owner` starts the message (`redisStore`).
 */
export function rejectUnknownOptions(
  owner: string,
  options: object,
  known: ReadonlySet<string>,
  { hints = {}, notes = {}, removed = {}, path = "" }: UnknownOptionHelp = {},
): void {
  for (const key of Object.keys(options)) {
    if (known.has(key)) continue;
    if (Object.hasOwn(removed, key)) throw new TypeError(`${owner}: \`${path}${key}\` was removed: ${removed[key]}`);
    const suffix = Object.hasOwn(hints, key)
      ? ` (did you mean \`${hints[key]}\`?)`
      : Object.hasOwn(notes, key)
        ? `: ${notes[key]}`
        : "";
    throw new TypeError(`${owner}: unknown option \`${path}${key}\`${suffix}.`);
  }
}
