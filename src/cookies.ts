import { createHmac, timingSafeEqual, type KeyObject } from "node:crypto";
import { sign as signExpress, unsign as unsignExpress } from "cookie-signature";
import { SessionAuthError } from "./errors.js";
import { hmacKeys, type CookieSecret } from "./secrets.js";
import {
  cookieValues,
  joinChunks,
  keygripValues,
  MAX_COOKIE_CHARS,
  MAX_SESSION_COOKIES,
  noCookie,
  oversized,
  type CookieContext,
} from "./cookie-header.js";

export {
  cookieValues,
  joinChunks,
  MAX_CHUNKS,
  MAX_COOKIE_CHARS,
  MAX_SESSION_COOKIES,
  requestIsSecure,
} from "./cookie-header.js";
export type { CookieContext } from "./cookie-header.js";

/**
 * How the session cookie is signed.
 * - `"express"`: express-session and cookie-parser: `s:<id>.<base64 HMAC-SHA256>`, URL-encoded.
 * - `"fastify"`: @fastify/session: `<id>.<base64 HMAC-SHA256>`, no `s:`, written raw.
 * - `"keygrip"`: cookie-session and koa-session: the value, plus `<name>.sig` signing `<name>=<value>`.
 * - `"better-auth"`: Better Auth (better-call's `signCookieValue`, better-auth 1.7):
 *   `<token>.<base64 HMAC-SHA256(token)>` with `=` padding (44 characters), URL-encoded.
 * - `"none"`: the cookie value is the id, unsigned (only for stores whose ids are unguessable and
 *   which you trust the network to protect, or stores that verify the value themselves: an encrypted
 *   JWT, an iron seal; never the default).
 */
export type SigningScheme = "express" | "fastify" | "keygrip" | "better-auth" | "none";

/** HMAC digest of the keygrip `.sig` cookie (keygrip's default is `"sha1"`). */
export type KeygripAlgorithm = "sha1" | "sha256" | "sha512";

export const SIGNING_SCHEMES: readonly SigningScheme[] = ["express", "fastify", "keygrip", "better-auth", "none"];
export const KEYGRIP_ALGORITHMS: readonly KeygripAlgorithm[] = ["sha1", "sha256", "sha512"];

/** A verified session cookie. */
export interface VerifiedCookie {
  /** The session id (for keygrip cookies and `"none"`: the raw, verified or reassembled cookie value). */
  id: string;
  /** Which entry of `secret` verified it (0 = the current one); -1 for `signing: "none"`. */
  secretIndex: number;
  /** Which of the configured names was read (its chunks, for a chunked cookie). */
  name: string;
}

export interface CookieReaderOptions {
  /** One cookie name (the same as `names: [name]`). */
  name?: string;
  /** Cookie names to try, in order: the first present in the header is read. */
  names?: readonly string[];
  signing: SigningScheme;
  /** The keys that verify (the first signs); strings, Buffers or KeyObjects, turned into HMAC keys once. */
  secrets: readonly CookieSecret[];
  algorithm?: KeygripAlgorithm;
  /** Read `<name>.0`, `<name>.1`, … joined when `<name>` itself is absent (Auth.js, iron-session v9). */
  chunked?: boolean;
}

const EXPRESS_PREFIX = "s:";
const BETTER_AUTH_SIGNATURE_CHARS = 44; // base64 of 32 bytes, with one "=" (better-call checks the same)

/** Reads a Cookie header into the session id it proves, or throws a {@link SessionAuthError}. */
export type CookieReader = (header: string | undefined, context?: CookieContext) => VerifiedCookie;

export function createCookieReader(options: CookieReaderOptions): CookieReader {
  const { signing, algorithm = "sha1", chunked = false } = options;
  const names = options.names ?? (options.name === undefined ? [] : [options.name]);
  if (names.length === 0) throw new TypeError("createCookieReader: give `name` or `names`.");
  if (chunked && signing === "keygrip") throw new TypeError("createCookieReader: keygrip cookies are never chunked.");
  const keys = signing === "none" ? [] : hmacKeys(options.secrets, "createCookieReader: `secrets`");
  // Each name's reader returns undefined when that cookie is absent, so the next name is tried.
  const readers = names.map((name) => readerFor(name, signing, keys, algorithm, chunked));
  return (header, context) => {
    for (const read of readers) {
      const verified = read(header);
      if (verified !== undefined) return verified;
    }
    throw noCookie(names, header, context, chunked);
  };
}

type NameReader = (header: string | undefined) => VerifiedCookie | undefined;

function readerFor(
  name: string,
  signing: SigningScheme,
  keys: readonly KeyObject[],
  algorithm: KeygripAlgorithm,
  chunked: boolean,
): NameReader {
  const sigName = `${name}.sig`;

  // Tries each same-named candidate in the order the browser sent them and accepts the first that
  // verifies; a candidate that does not verify is never used. When none does, the most telling failure
  // wins: a wrong signature over a malformed value.
  const firstVerified = (candidates: readonly string[], verify: (value: string) => VerifiedCookie): VerifiedCookie => {
    let failure: SessionAuthError | undefined;
    for (const candidate of candidates) {
      try {
        if (candidate.length > MAX_COOKIE_CHARS) throw oversized(name);
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
  // The values to try: every cookie of the name, or else its chunks joined (one candidate).
  const candidatesOf = (header: string | undefined): string[] => {
    const values = cookieValues(header, name);
    if (values.length > 0 || !chunked) return values;
    const joined = joinChunks(header, name);
    return joined === undefined ? [] : [joined];
  };
  const reading = (verify: (value: string) => VerifiedCookie): NameReader => {
    return (header) => {
      const candidates = candidatesOf(header);
      return candidates.length === 0 ? undefined : firstVerified(candidates, verify);
    };
  };

  switch (signing) {
    case "express":
    case "fastify": {
      const prefix = signing === "express" ? EXPRESS_PREFIX : "";
      // express-session reads its cookie with cookie@0.7, which strips one pair of RFC 6265 double
      // quotes; @fastify/cookie (cookie@2) does not.
      const stripQuotes = signing === "express";
      return reading((raw) => {
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
        for (let index = 0; index < keys.length; index++) {
          // cookie-signature re-signs the id and compares with timingSafeEqual after a length check.
          if (unsignExpress(body, keys[index]!) !== false) return { id: body.slice(0, dot), secretIndex: index, name };
        }
        throw badSignature(name, keys.length);
      });
    }
    case "better-auth":
      return reading((raw) => {
        // better-call's parseCookies: a leading double quote drops the first and last character, then
        // the value is URL-decoded.
        const value = decodeOrThrow(raw.startsWith('"') ? raw.slice(1, -1) : raw, name);
        const dot = value.lastIndexOf(".");
        const signature = value.slice(dot + 1);
        if (dot < 1 || signature.length !== BETTER_AUTH_SIGNATURE_CHARS || !signature.endsWith("=")) {
          throw new SessionAuthError(
            "MALFORMED_COOKIE",
            `The "${name}" cookie has no "<token>.<signature>" shape of Better Auth (a 44-character base64 HMAC-SHA256 after the last ".").`,
          );
        }
        const token = value.slice(0, dot);
        const given = Buffer.from(signature);
        for (let index = 0; index < keys.length; index++) {
          const expected = Buffer.from(createHmac("sha256", keys[index]!).update(token).digest("base64"));
          if (expected.length === given.length && timingSafeEqual(expected, given))
            return { id: token, secretIndex: index, name };
        }
        throw badSignature(name, keys.length, BETTER_AUTH_HINT);
      });
    case "keygrip":
      return (header) => {
        // The `cookies` package (under cookie-session and koa) finds a cookie with its own pattern and
        // strips a leading double quote its own way: read exactly as it does, or signatures differ.
        const values = keygripValues(header, name);
        if (values.length === 0) return undefined;
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
          for (let index = 0; index < keys.length; index++) {
            const expected = Buffer.from(createHmac(algorithm, keys[index]!).update(data).digest("base64url"));
            for (const given of givens) {
              if (expected.length === given.length && timingSafeEqual(expected, given))
                return { id: value, secretIndex: index, name };
            }
          }
          throw badSignature(name, keys.length);
        });
      };
    case "none":
      return (header) => {
        const candidates = candidatesOf(header);
        if (candidates.length === 0) return undefined;
        // Nothing verifies an unsigned cookie, so there is no telling same-named ones apart: the first
        // wins, as in every cookie parser.
        if (candidates[0]!.length > MAX_COOKIE_CHARS) throw oversized(name);
        const id = decodeOrThrow(unquotePair(candidates[0]!), name);
        if (id === "") throw new SessionAuthError("MALFORMED_COOKIE", `The "${name}" cookie is empty.`);
        return { id, secretIndex: -1, name };
      };
  }
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

function badSignature(name: string, count: number, hint = ""): SessionAuthError {
  return new SessionAuthError(
    "BAD_SIGNATURE",
    `The "${name}" cookie's signature matches none of the ${count} configured secret${count === 1 ? "" : "s"}: ` +
      "it was signed with a secret that is no longer listed, or it was tampered with." +
      hint,
  );
}

// Better Auth signs and verifies its session cookie with the current secret only (better-auth 1.7).
const BETTER_AUTH_HINT =
  " For Better Auth: the socket server's `secret` (or the first of `secrets`, or BETTER_AUTH_SECRET / BETTER_AUTH_SECRETS " +
  "in its environment) must be the web app's current one; after a rotation, restart both with the same secrets.";

/** What to put in a Cookie header for a given session id or cookie-session value, signed by `secret`. */
export interface SignCookieOptions {
  /** The session id (express, fastify, better-auth, none) or the raw cookie value (keygrip, e.g. base64 JSON). */
  value: string;
  /** The secret or key that signs (for an array: the first, as the session libraries do). */
  secret?: CookieSecret | readonly CookieSecret[];
  /** Cookie name (default `"connect.sid"`). */
  name?: string;
  signing?: SigningScheme;
  algorithm?: KeygripAlgorithm;
}

/**
 * Builds the `Cookie` header value a browser would send for that session, byte for byte as the
 * session library writes it: express-session's URL-encoded `s:` value, @fastify/session's raw one,
 * cookie-session's pair of `<name>` and `<name>.sig` cookies, or Better Auth's URL-encoded
 * `<token>.<base64 signature>`.
 */
export function signSessionCookie(options: SignCookieOptions): string {
  const { value, name = "connect.sid", signing = "express", algorithm = "sha1" } = options;
  let key: KeyObject | undefined;
  if (signing !== "none") {
    const secret = Array.isArray(options.secret) ? options.secret[0] : options.secret;
    key = hmacKeys(secret, "signSessionCookie: `secret`")[0]!;
  }
  switch (signing) {
    case "express":
      return `${name}=${encodeURIComponent(EXPRESS_PREFIX + signExpress(value, key!))}`;
    case "fastify":
      return `${name}=${signExpress(value, key!)}`;
    case "keygrip":
      return `${name}=${value}; ${name}.sig=${createHmac(algorithm, key!).update(`${name}=${value}`).digest("base64url")}`;
    case "better-auth":
      return `${name}=${encodeURIComponent(`${value}.${createHmac("sha256", key!).update(value).digest("base64")}`)}`;
    case "none":
      return `${name}=${encodeURIComponent(value)}`;
    default:
      throw new TypeError(`signSessionCookie: unknown \`signing\` ${JSON.stringify(signing)}.`);
  }
}
