import { parse as parseCookieHeader } from "cookie";
import { SessionAuthError } from "./errors.js";

// Reading the Cookie header: the values of a name, chunked cookies, and the diagnosis when the session
// cookie is absent. Split from cookies.ts, which verifies the values.

/** What the reader knows of the request, for diagnoses only. */
export interface CookieContext {
  /** true: the browser reached us over https; false: over plain http; undefined: unknown. */
  secure?: boolean | undefined;
}

const MAX_NAMES_SHOWN = 10;

const SECURE_PREFIXES = ["__Secure-", "__Host-"];

// The `cookie` package would decode every value; keygrip signs the raw text, so we take values raw
// and decode only where the writing library encodes.
const keepRaw = (value: string): string => value;

/**
 * How many cookies of the session cookie's name are tried. Browsers send one per matching path and
 * domain (an app on a parent domain, an old path), most specific first; a handful is plenty, and the
 * bound keeps a hostile header from buying many HMACs.
 */
export const MAX_SESSION_COOKIES = 4;
/**
 * Chunked cookies: at most this many chunks (`<name>.0` … `<name>.15`). Auth.js cuts at about 4 KB a
 * chunk, so this is 64 KB of session, four times what Node's default 16 KB header limit lets through.
 */
export const MAX_CHUNKS = 16;
/** The longest session cookie value read (in characters, chunks joined); longer is refused unread. */
export const MAX_COOKIE_CHARS = 64 * 1024;

/**
 * The chunks `<name>.0`, `<name>.1`, … of a cookie, joined in index order (whatever their order in the
 * header; the first of a repeated chunk wins), or undefined when none came. A gap, an index of
 * {@link MAX_CHUNKS} or more, or more than {@link MAX_COOKIE_CHARS} in all is `MALFORMED_COOKIE`.
 * Each chunk is the raw text: the library URL-encodes the whole value before cutting it, or cuts
 * before encoding (encodeURIComponent works per character), so decoding the join is the same either way.
 */
export function joinChunks(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const prefix = `${name}.`;
  const chunks: (string | undefined)[] = [];
  let total = 0;
  forEachPair(header, (key, value) => {
    if (!key.startsWith(prefix)) return;
    const suffix = key.slice(prefix.length);
    if (!/^[0-9]+$/.test(suffix)) return; // `<name>.sig` and the like are not chunks
    const index = suffix.length > 3 ? Number.POSITIVE_INFINITY : Number(suffix);
    if (index >= MAX_CHUNKS) {
      throw new SessionAuthError(
        "MALFORMED_COOKIE",
        `A chunk of the "${name}" cookie numbered ${suffix.length > 3 ? "1000 or more" : index} came; at most ${MAX_CHUNKS} ` +
          `chunks ("${name}.0" to "${name}.${MAX_CHUNKS - 1}") are read. Refused unread.`,
      );
    }
    if (chunks[index] !== undefined) return;
    total += value.length;
    if (total > MAX_COOKIE_CHARS) throw oversized(name);
    chunks[index] = value;
  });
  if (chunks.length === 0) return undefined;
  for (let index = 0; index < chunks.length; index++) {
    if (chunks[index] === undefined) {
      const came = chunks.flatMap((chunk, i) => (chunk === undefined ? [] : [`.${i}`]));
      throw new SessionAuthError(
        "MALFORMED_COOKIE",
        `The "${name}" cookie comes in chunks and "${name}.${index}" is missing (came: ${came.join(", ")}): the browser ` +
          "dropped one (too many or too large cookies for the domain) or the header was cut. Signing in again rewrites them; keep the session small.",
      );
    }
  }
  return chunks.join("");
}

export function oversized(name: string): SessionAuthError {
  return new SessionAuthError(
    "MALFORMED_COOKIE",
    `The "${name}" cookie is over ${MAX_COOKIE_CHARS} characters (its chunks joined); refused unread.`,
  );
}

// Names the cookies that were expected and, when a secure-prefixed twin explains the absence, the fix.
export function noCookie(
  names: readonly string[],
  header: string | undefined,
  context: CookieContext | undefined,
  chunked: boolean,
): SessionAuthError {
  const expected = names.map((name) => `"${name}"`).join(" or ") + (chunked ? " (or its chunks .0, .1, …)" : "");
  if (header === undefined || header === "") {
    return new SessionAuthError(
      "NO_SESSION_COOKIE",
      `The handshake has no Cookie header, so no ${expected} cookie: the visitor has not logged in yet, or the cookie's ` +
        "`domain` or `path` keep the browser from sending it to the socket.io host." +
        prefixHint(names, header, context),
    );
  }
  const hint = prefixHint(names, header, context);
  return new SessionAuthError(
    "NO_SESSION_COOKIE",
    `No ${expected} cookie in the handshake; cookies present: ${describeNames(parseCookieHeader(header, { decode: keepRaw }))}. ` +
      (hint === ""
        ? names.length === 1
          ? "Check the `name` option against the session middleware's cookie name."
          : "Check the web app's cookie settings against the store's."
        : hint.trimStart()),
  );
}

// `__Secure-` / `__Host-` cookies are set and sent by browsers over https only.
function prefixHint(names: readonly string[], header: string | undefined, context: CookieContext | undefined): string {
  const present = (name: string): boolean =>
    header !== undefined && (cookieValues(header, name).length > 0 || cookieValues(header, `${name}.0`).length > 0);
  for (const name of names) {
    const prefix = SECURE_PREFIXES.find((p) => name.startsWith(p));
    if (prefix === undefined) {
      const twin = SECURE_PREFIXES.map((p) => p + name).find(present);
      if (twin !== undefined) {
        return (
          ` Only "${twin}" came: the web app writes its cookie for https (an https baseURL, or useSecureCookies) while this ` +
          `server expects "${name}". Give the socket server the same settings as the web app (baseURL / useSecureCookies).`
        );
      }
      continue;
    }
    const bare = name.slice(prefix.length);
    if (!names.includes(bare) && present(bare)) {
      return (
        ` Only "${bare}" came: the web app writes its cookie for plain http while this server expects "${name}" (an https ` +
        "baseURL, or useSecureCookies). Give the socket server the same settings as the web app (baseURL / useSecureCookies)."
      );
    }
    if (context?.secure === false) {
      return (
        ` "${name}" is a ${prefix} cookie, which browsers send only over https, and this handshake came over plain http: ` +
        "serve the socket server over https (or behind a TLS proxy that sets X-Forwarded-Proto), or, in development, " +
        "give the web app an http baseURL (or useSecureCookies: false) so it writes the plain name."
      );
    }
  }
  return "";
}

/**
 * Whether the browser reached us over https, for diagnoses only: the TLS socket, else the proxy's
 * `X-Forwarded-Proto`, else the page's `Origin`; undefined when nothing says.
 */
export function requestIsSecure(req: {
  headers: Record<string, string | string[] | undefined>;
  socket?: unknown;
}): boolean | undefined {
  if ((req.socket as { encrypted?: boolean } | undefined)?.encrypted === true) return true;
  const forwarded = req.headers["x-forwarded-proto"];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim().toLowerCase();
  if (proto === "https" || proto === "wss") return true;
  if (proto === "http" || proto === "ws") return false;
  const origin = req.headers.origin;
  if (typeof origin === "string" && origin.startsWith("https:")) return true;
  if (typeof origin === "string" && origin.startsWith("http:")) return false;
  return undefined;
}

/**
 * The raw values of every cookie named `name`, in header order, at most {@link MAX_SESSION_COOKIES}:
 * pairs split at `;`, name and value at the first `=`, spaces and tabs trimmed, as the `cookie` package
 * (express-session, @fastify/cookie) splits them.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (header === undefined) return values;
  let index = 0;
  while (index < header.length && values.length < MAX_SESSION_COOKIES) {
    const eq = header.indexOf("=", index);
    if (eq === -1) break; // no pair left
    let end = header.indexOf(";", index);
    if (end === -1) end = header.length;
    if (eq > end) {
      // Segments without "=" are skipped in one jump (as the `cookie` package does): linear time.
      index = header.lastIndexOf(";", eq - 1) + 1;
      continue;
    }
    if (isName(header, index, eq, name)) values.push(trimmed(header, eq + 1, end));
    index = end + 1;
  }
  return values;
}

/** Every cookie pair of the header, in order (split as {@link cookieValues} does), in linear time. */
function forEachPair(header: string, visit: (name: string, value: string) => void): void {
  let index = 0;
  while (index < header.length) {
    const eq = header.indexOf("=", index);
    if (eq === -1) break;
    let end = header.indexOf(";", index);
    if (end === -1) end = header.length;
    if (eq > end) {
      index = header.lastIndexOf(";", eq - 1) + 1;
      continue;
    }
    visit(trimmed(header, index, eq), trimmed(header, eq + 1, end));
    index = end + 1;
  }
}

/** Whether `text` from `start` to `end`, trimmed as {@link trimmed} trims, is `name` (no substring made). */
function isName(text: string, start: number, end: number, name: string): boolean {
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  return end - start === name.length && text.startsWith(name, start);
}

function trimmed(text: string, start: number, end: number): string {
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  return text.slice(start, end);
}

/**
 * The values the `cookies` package (0.9, under cookie-session and koa-session) would read for `name`:
 * `(?:^|;) *<name>=([^;]*)`, then one leading `"` and the last character dropped. All matches, bounded.
 */
export function keygripValues(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (header === undefined) return values;
  let from = 0;
  while (values.length < MAX_SESSION_COOKIES) {
    const at = header.indexOf(`${name}=`, from);
    if (at === -1) break;
    from = at + 1;
    let before = at - 1;
    while (before >= 0 && header.charCodeAt(before) === 0x20) before--;
    if (before >= 0 && header.charCodeAt(before) !== 0x3b /* ; */) continue;
    const start = at + name.length + 1;
    let end = header.indexOf(";", start);
    if (end === -1) end = header.length;
    const value = header.slice(start, end);
    values.push(value.startsWith('"') ? value.slice(1, -1) : value);
  }
  return values;
}

// Cookie names only (never values), cut short and stripped of control characters: a diagnosis, not a dump.
function describeNames(cookies: Record<string, string | undefined>): string {
  const names = Object.keys(cookies);
  if (names.length === 0) return "none";
  const shown = names.slice(0, MAX_NAMES_SHOWN).map((n) => JSON.stringify(n.length > 40 ? `${n.slice(0, 40)}…` : n));
  return names.length > MAX_NAMES_SHOWN
    ? `${shown.join(", ")} and ${names.length - MAX_NAMES_SHOWN} more`
    : shown.join(", ");
}
