/**
 * One pass over a JSON text, before `JSON.parse`, for what `JSON.parse` does not refuse:
 *
 * - nesting deeper than a limit (socket.io's encoders recurse, so a 1 MiB `[[[[...` would blow their stack);
 * - a key repeated in one object. RFC 8259 §4 says names "SHOULD be unique" and leaves a repeat to each
 *   parser: `JSON.parse` keeps the last, others keep the first or refuse. A proxy, a logger or a request
 *   signer that reads the first `to` would see another recipient than the one we would use, so a repeat
 *   is refused outright (as the I-JSON profile, RFC 7493 §2.3, requires).
 *
 * Linear in the length of the text: each character is looked at a bounded number of times (a string is
 * skipped with `indexOf`, the backslashes before each quote are counted once), and each open object's
 * keys go into a short array, then a `Set` past a few. It never throws and always ends, also on text that is not JSON: `JSON.parse` is what
 * decides that, after it.
 */
export type JsonScan =
  | { readonly kind: "ok" }
  | { readonly kind: "too-deep" }
  /** `path` names the repeated key as the validator names fields: `to`, `messages[2].to.user`. */
  | { readonly kind: "duplicate"; readonly path: string };

const OK: JsonScan = Object.freeze({ kind: "ok" });
const TOO_DEEP: JsonScan = Object.freeze({ kind: "too-deep" });

/** Past this many keys an object's keys go into a Set; below it a short array is cheaper to make and search. */
const FEW_KEYS = 8;

interface Frame {
  /** Keys seen so far in this object (an array while few, then a Set); null for an array. */
  keys: string[] | Set<string> | null;
  /** The key whose value is being read (objects), or the index of the current item (arrays). */
  at: string | number;
  /** Objects: the next string is a key (after `{` or `,`). */
  expectKey: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function scanJson(source: string, maxDepth: number): JsonScan {
  const stack: Frame[] = [];
  const length = source.length;
  for (let i = 0; i < length; i++) {
    const c = source.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(source, i + 1);
      if (end < 0) return OK; // an unterminated string: not JSON, JSON.parse says so
      const top = stack[stack.length - 1];
      if (top !== undefined && top.keys !== null && top.expectKey) {
        const key = keyOf(source, i, end);
        const keys = top.keys;
        if (Array.isArray(keys)) {
          if (keys.includes(key)) return { kind: "duplicate", path: pathOf(stack, key) };
          keys.push(key);
          if (keys.length > FEW_KEYS) top.keys = new Set(keys);
        } else {
          if (keys.has(key)) return { kind: "duplicate", path: pathOf(stack, key) };
          keys.add(key);
        }
        top.at = key;
        top.expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return TOO_DEEP;
      stack.push(c === 0x7b ? { keys: [], at: "", expectKey: true } : { keys: null, at: 0, expectKey: false });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top === undefined) continue;
      if (top.keys !== null) top.expectKey = true;
      else top.at = (top.at as number) + 1;
    }
  }
  return OK;
}

/** The index of the quote that closes a string whose content starts at `from`, or -1. */
function closingQuote(source: string, from: number): number {
  let at = from;
  for (;;) {
    const quote = source.indexOf('"', at);
    if (quote < 0) return -1;
    // An odd run of backslashes right before it escapes it.
    let slashes = 0;
    for (let j = quote - 1; j >= from && source.charCodeAt(j) === BACKSLASH; j--) slashes++;
    if (slashes % 2 === 0) return quote;
    at = quote + 1;
  }
}

/** The key as JSON.parse names the property: `"a"` and `"\u0061"` are the same key. */
function keyOf(source: string, open: number, close: number): string {
  const raw = source.slice(open + 1, close);
  if (raw.indexOf("\\") < 0) return raw;
  try {
    return JSON.parse(source.slice(open, close + 1)) as string;
  } catch {
    return raw; // a bad escape: JSON.parse refuses the whole text anyway
  }
}

function pathOf(stack: readonly Frame[], key: string): string {
  let path = "";
  for (let depth = 0; depth < stack.length - 1; depth++) {
    // The root frame names nothing; each deeper frame is the value at its parent's `at`.
    path = segment(path, stack[depth]!.at);
  }
  return segment(path, key);
}

function segment(path: string, at: string | number): string {
  if (typeof at === "number") return `${path}[${at}]`;
  const name = at.length > 40 ? `${at.slice(0, 40)}…` : at;
  return path === "" ? name : `${path}.${name}`;
}
