import { createSecretKey, KeyObject } from "node:crypto";

/**
 * A key that signs session cookies: a string (UTF-8, as every session library hashes it), a Buffer (or
 * any Uint8Array), or a secret `KeyObject`. express-session ≥ 1.18 signs with anything
 * `crypto.createHmac` takes (issue 18, item 8), so the same value can be passed here.
 */
export type CookieSecret = string | Buffer | Uint8Array | KeyObject;

/**
 * Turns the configured secret(s) into HMAC keys, once, at construction: a handshake then pays no key
 * import. Throws a `TypeError` naming `what` (e.g. "sessionAuth: `secret`") for an empty or unusable
 * entry, and for a signer object (@fastify/session accepts one; it hides its keys and algorithm, so the
 * cookie cannot be verified here).
 */
export function hmacKeys(input: unknown, what: string): KeyObject[] {
  const list: unknown[] = Array.isArray(input) ? input : [input];
  if (list.length === 0) {
    throw new TypeError(`${what} is an empty array: give at least one secret (the first signs, every one verifies).`);
  }
  return list.map((entry, index) => hmacKey(entry, list.length === 1 ? what : `${what}[${index}]`));
}

function hmacKey(entry: unknown, what: string): KeyObject {
  if (typeof entry === "string") {
    if (entry === "") throw new TypeError(`${what} is an empty string; a secret must not be empty.`);
    return createSecretKey(Buffer.from(entry, "utf8"));
  }
  if (entry instanceof KeyObject) {
    if (entry.type !== "secret") {
      throw new TypeError(
        `${what} is a ${entry.type} KeyObject; cookies are signed with HMAC, which takes a secret key (crypto.createSecretKey).`,
      );
    }
    return entry;
  }
  if (entry instanceof Uint8Array) {
    if (entry.byteLength === 0) throw new TypeError(`${what} is an empty Buffer; a secret must not be empty.`);
    // A copy: the caller may reuse or zero its buffer later.
    return createSecretKey(Buffer.from(entry));
  }
  if (typeof entry === "object" && entry !== null && ("sign" in entry || "unsign" in entry)) {
    throw new TypeError(
      `${what} is a signer object (a @fastify/cookie Signer or a custom { sign, unsign } given to @fastify/session). ` +
        "It hides its keys and algorithm, so the cookie cannot be verified here: pass the keys the signer was built from " +
        "instead, e.g. `secret: [current, ...older]` (strings, Buffers or KeyObjects), and let @fastify/session sign with its default HMAC-SHA256.",
    );
  }
  throw new TypeError(
    `${what} must be a non-empty string, a Buffer or a secret KeyObject (or an array of them); got ${entry === null ? "null" : typeof entry}.`,
  );
}
