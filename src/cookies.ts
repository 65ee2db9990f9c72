import { createHmac, timingSafeEqual } from "node:crypto";
import { parse as parseCookieHeader } from "cookie";
import { sign as signExpress, unsign as unsignExpress } from "cookie-signature";
import { SessionAuthError } from "./errors.js";

/**
 * How the session cookie is signed.
 * - `"express"`: express-session and cookie-parser: `s:<id>.<base64 HMAC-SHA256>`, URL-encoded.
 * - `"fastify"`: @fastify/session: `<id>.<base64 HMAC-SHA256>`, no `s:`, written raw.
 * - `"keygrip"`: cookie-session and koa-session: the value, plus `<name>.sig` signing `<name>=<value>`.
 * - `"none"`: the cookie value is the id, unsigned (only for stores whose ids are unguessable and
 *   which you trust the network to protect; never the default).
 */
export type SigningScheme = "express" | "fastify" | "keygrip" | "none";

/** HMAC digest of the keygrip `.sig` cookie (keygrip's default is `"sha1"`). */
export type KeygripAlgorithm = "sha1" | "sha256" | "sha512";

export const SIGNING_SCHEMES: readonly SigningScheme[] = ["express", "fastify", "keygrip", "none"];
export const KEYGRIP_ALGORITHMS: readonly KeygripAlgorithm[] = ["sha1", "sha256", "sha512"];

/** A verified session cookie. */
export interface VerifiedCookie {
  /** The session id (for keygrip cookies: the raw, verified cookie value). */
  id: string;
  /** Which entry of `secret` verified it (0 = the current one); -1 for `signing: "none"`. */
  secretIndex: number;
}

export interface CookieReaderOptions {
  name: string;
  signing: SigningScheme;
  secrets: readonly string[];
  algorithm: KeygripAlgorithm;
}

const EXPRESS_PREFIX = "s:";
const MAX_NAMES_SHOWN = 10;
/**
 * How many cookies of the session cookie's name are tried. Browsers send one per matching path and
 * domain (an app on a parent domain, an old path), most specific first; a handful is plenty, and the
 * bound keeps a hostile header from buying many HMACs.
 */
export const MAX_SESSION_COOKIES = 4;

// The `cookie` package would decode every value; keygrip signs the raw text, so we take values raw
// and decode only where the writing library encodes.
const keepRaw = (value: string): string => value;

/** Reads a Cookie header into the session id it proves, or throws a {@link SessionAuthError}. */
export type CookieReader = (header: string | undefined) => VerifiedCookie;

export function createCookieReader(options: CookieReaderOptions): CookieReader {
  const { name, signing, secrets, algorithm } = options;
  const sigName = `${name}.sig`;

  const noCookie = (header: string | undefined): SessionAuthError => {
    if (header === undefined || header === "") {
      return new SessionAuthError(
        "NO_SESSION_COOKIE",
        `The handshake has no Cookie header, so no "${name}" cookie: the visitor has not logged in yet, or the cookie's ` +
          "`domain` or `path` keep the browser from sending it to the socket.io host.",
      );
    }
    return new SessionAuthError(
      "NO_SESSION_COOKIE",
      `No "${name}" cookie in the handshake; cookies present: ${describeNames(parseCookieHeader(header, { decode: keepRaw }))}. ` +
        "Check the `name` option against the session middleware's cookie name.",
    );
  };

  // Tries each same-named candidate in the order the browser sent them and accepts the first that
  // verifies; a candidate that does not verify is never used. When none does, the most telling failure
  // wins: a wrong signature over a malformed value.
  const firstVerified = (candidates: readonly string[], verify: (value: string) => VerifiedCookie): VerifiedCookie => {
    let failure: SessionAuthError | undefined;
    for (const candidate of candidates) {
      try {
        return verify(candidate);
      } catch (error) {
        if (failure === undefined || (error as SessionAuthError).code === "BAD_SIGNATURE")
          failure = error as SessionAuthError;
      }
    }
    throw candidates.length > 1 ? withCount(failure!, candidates.length) : failure!;
  };
  const withCount = (error: SessionAuthError, count: number): SessionAuthError =>
    new SessionAuthError(
      error.code,
      `${count} cookies named "${name}" came (browsers send one per matching path and domain, e.g. another app on a parent domain); ` +
        `none verified${count >= MAX_SESSION_COOKIES ? ` (the first ${MAX_SESSION_COOKIES} were tried)` : ""}. The last telling failure: ${error.message}`,
    );

  switch (signing) {
    case "express":
    case "fastify": {
      const prefix = signing === "express" ? EXPRESS_PREFIX : "";
      // express-session reads its cookie with cookie@0.7, which strips one pair of RFC 6265 double
      // quotes; @fastify/cookie (cookie@2) does not.
      const stripQuotes = signing === "express";
      const verify = (raw: string): VerifiedCookie => {
        const value = decodeOrThrow(stripQuotes ? unquotePair(raw) : raw, name);
        if (!value.startsWith(prefix)) {
          throw new SessionAuthError(
            "MALFORMED_COOKIE",
            `The "${name}" cookie is not signed the express-session way (it does not start with "s:")` +
              (value.includes(".") && !value.startsWith('"')
                ? '; if @fastify/session wrote it, use `signing: "fastify"`.'
                : "."),
          );
        }
        const body = prefix === "" ? value : value.slice(prefix.length);
        const dot = body.lastIndexOf(".");
        if (dot <= 0 || dot === body.length - 1) {
          throw new SessionAuthError("MALFORMED_COOKIE", `The "${name}" cookie has no "<id>.<signature>" shape.`);
        }
        for (let index = 0; index < secrets.length; index++) {
          // cookie-signature re-signs the id and compares with timingSafeEqual after a length check.
          if (unsignExpress(body, secrets[index]!) !== false) return { id: body.slice(0, dot), secretIndex: index };
        }
        throw badSignature(name, secrets.length);
      };
      return (header) => {
        const candidates = cookieValues(header, name);
        if (candidates.length === 0) throw noCookie(header);
        return firstVerified(candidates, verify);
      };
    }
    case "keygrip":
      return (header) => {
        // The `cookies` package (under cookie-session and koa) finds a cookie with its own pattern and
        // strips a leading double quote its own way: read exactly as it does, or signatures differ.
        const values = keygripValues(header, name);
        if (values.length === 0) throw noCookie(header);
        const sigs = keygripValues(header, sigName);
        if (sigs.length === 0) {
          throw new SessionAuthError(
            "BAD_SIGNATURE",
            `The "${name}" cookie came without its "${sigName}" signature cookie (is the session library's \`signed\` option off?).`,
          );
        }
        const givens = sigs.map((sig) => Buffer.from(sig));
        return firstVerified(values, (value) => {
          if (value === "") throw new SessionAuthError("MALFORMED_COOKIE", `The "${name}" cookie is empty.`);
          const data = `${name}=${value}`;
          for (let index = 0; index < secrets.length; index++) {
            const expected = Buffer.from(createHmac(algorithm, secrets[index]!).update(data).digest("base64url"));
            for (const given of givens) {
              if (expected.length === given.length && timingSafeEqual(expected, given))
                return { id: value, secretIndex: index };
            }
          }
          throw badSignature(name, secrets.length);
        });
      };
    case "none":
      return (header) => {
        const candidates = cookieValues(header, name);
        if (candidates.length === 0) throw noCookie(header);
        // Nothing verifies an unsigned cookie, so there is no telling same-named ones apart: the first
        // wins, as in every cookie parser.
        const id = decodeOrThrow(unquotePair(candidates[0]!), name);
        if (id === "") throw new SessionAuthError("MALFORMED_COOKIE", `The "${name}" cookie is empty.`);
        return { id, secretIndex: -1 };
      };
  }
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
    if (trimmed(header, index, eq) === name) values.push(trimmed(header, eq + 1, end));
    index = end + 1;
  }
  return values;
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
function keygripValues(header: string | undefined, name: string): string[] {
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

// cookie@0.7 (express-session) strips one pair of double quotes around a value (RFC 6265 allows them).
function unquotePair(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

/** Decodes only when `%` is present, as the `cookie` package does; `+` stays `+`. */
function decodeOrThrow(raw: string, name: string): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new SessionAuthError("MALFORMED_COOKIE", `The "${name}" cookie is not valid percent-encoding.`);
  }
}

function badSignature(name: string, count: number): SessionAuthError {
  return new SessionAuthError(
    "BAD_SIGNATURE",
    `The "${name}" cookie's signature matches none of the ${count} configured secret${count === 1 ? "" : "s"}: ` +
      "it was signed with a secret that is no longer listed, or it was tampered with.",
  );
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

/** What to put in a Cookie header for a given session id or cookie-session value, signed by `secret`. */
export interface SignCookieOptions {
  /** The session id (express, fastify, none) or the raw cookie value (keygrip, e.g. base64 JSON). */
  value: string;
  /** The secret or key that signs (for an array: the first, as the session libraries do). */
  secret?: string | readonly string[];
  /** Cookie name (default `"connect.sid"`). */
  name?: string;
  signing?: SigningScheme;
  algorithm?: KeygripAlgorithm;
}

/**
 * Builds the `Cookie` header value a browser would send for that session, byte for byte as the
 * session library writes it: express-session's URL-encoded `s:` value, @fastify/session's raw one,
 * or cookie-session's pair of `<name>` and `<name>.sig` cookies.
 */
export function signSessionCookie(options: SignCookieOptions): string {
  const { value, name = "connect.sid", signing = "express", algorithm = "sha1" } = options;
  const secret = Array.isArray(options.secret) ? options.secret[0] : options.secret;
  if (signing !== "none" && (typeof secret !== "string" || secret === "")) {
    throw new TypeError(
      "signSessionCookie: `secret` must be a non-empty string (or an array whose first entry is one).",
    );
  }
  switch (signing) {
    case "express":
      return `${name}=${encodeURIComponent(EXPRESS_PREFIX + signExpress(value, secret!))}`;
    case "fastify":
      return `${name}=${signExpress(value, secret!)}`;
    case "keygrip":
      return `${name}=${value}; ${name}.sig=${createHmac(algorithm, secret!).update(`${name}=${value}`).digest("base64url")}`;
    case "none":
      return `${name}=${encodeURIComponent(value)}`;
    default:
      throw new TypeError(`signSessionCookie: unknown \`signing\` ${JSON.stringify(signing)}.`);
  }
}
