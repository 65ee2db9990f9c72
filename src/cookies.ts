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

// The `cookie` package would decode every value; keygrip signs the raw text, so we take values raw
// and decode only where the writing library encodes.
const keepRaw = (value: string): string => value;

/** Reads a Cookie header into the session id it proves, or throws a {@link SessionAuthError}. */
export type CookieReader = (header: string | undefined) => VerifiedCookie;

export function createCookieReader(options: CookieReaderOptions): CookieReader {
  const { name, signing, secrets, algorithm } = options;
  const sigName = `${name}.sig`;

  const find = (header: string | undefined): { raw: string; cookies: Record<string, string | undefined> } => {
    if (header === undefined || header === "") {
      throw new SessionAuthError(
        "NO_SESSION_COOKIE",
        `The handshake has no Cookie header, so no "${name}" cookie. Browsers send cookies only to the site that set them: ` +
          "a page on another origin must connect with `withCredentials: true` and a CORS setup that allows credentials.",
      );
    }
    const cookies = parseCookieHeader(header, { decode: keepRaw });
    const raw = cookies[name];
    if (raw === undefined) {
      throw new SessionAuthError(
        "NO_SESSION_COOKIE",
        `No "${name}" cookie in the handshake; cookies present: ${describeNames(cookies)}. ` +
          "Check the `name` option against the session middleware's cookie name.",
      );
    }
    return { raw, cookies };
  };

  switch (signing) {
    case "express":
    case "fastify": {
      const prefix = signing === "express" ? EXPRESS_PREFIX : "";
      return (header) => {
        const value = decodeOrThrow(find(header).raw, name);
        if (!value.startsWith(prefix)) {
          throw new SessionAuthError(
            "MALFORMED_COOKIE",
            `The "${name}" cookie is not signed the express-session way (it does not start with "s:")` +
              (value.includes(".") ? '; if @fastify/session wrote it, use `signing: "fastify"`.' : "."),
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
    }
    case "keygrip":
      return (header) => {
        const { raw, cookies } = find(header);
        const sig = cookies[sigName];
        if (sig === undefined) {
          throw new SessionAuthError(
            "BAD_SIGNATURE",
            `The "${name}" cookie came without its "${sigName}" signature cookie (is the session library's \`signed\` option off?).`,
          );
        }
        const value = unquote(raw);
        if (value === "") throw new SessionAuthError("MALFORMED_COOKIE", `The "${name}" cookie is empty.`);
        const given = Buffer.from(unquote(sig));
        const data = `${name}=${value}`;
        for (let index = 0; index < secrets.length; index++) {
          const expected = Buffer.from(createHmac(algorithm, secrets[index]!).update(data).digest("base64url"));
          if (expected.length === given.length && timingSafeEqual(expected, given)) return { id: value, secretIndex: index };
        }
        throw badSignature(name, secrets.length);
      };
    case "none":
      return (header) => {
        const id = decodeOrThrow(find(header).raw, name);
        if (id === "") throw new SessionAuthError("MALFORMED_COOKIE", `The "${name}" cookie is empty.`);
        return { id, secretIndex: -1 };
      };
  }
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

// The `cookies` package (under cookie-session and koa) strips one pair of double quotes before verifying.
function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
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
  return names.length > MAX_NAMES_SHOWN ? `${shown.join(", ")} and ${names.length - MAX_NAMES_SHOWN} more` : shown.join(", ");
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
    throw new TypeError("signSessionCookie: `secret` must be a non-empty string (or an array whose first entry is one).");
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
