/**
 * Throws a TypeError for the first key of `options` that `known` does not list: a misspelt option would
 * otherwise be ignored in silence. `hints` maps likely mistakes to the right name; `path` prefixes the
 * key of a nested option object (`idempotency.`).
 */
export function rejectUnknownOptions(
  owner: string,
  options: object,
  known: ReadonlySet<string>,
  { hints = {}, path = "" }: { hints?: Readonly<Record<string, string>>; path?: string } = {},
): void {
  for (const key of Object.keys(options)) {
    if (known.has(key)) continue;
    const hint = Object.hasOwn(hints, key) ? ` (did you mean \`${hints[key]}\`?)` : "";
    throw new TypeError(`${owner}: unknown option \`${path}${key}\`${hint}.`);
  }
}
