import * as crypto from "node:crypto";

// The one SHA-256 of the package (session keys, push tokens, idempotency keys). crypto.hash (Node
// 20.12+, 21.7+) hashes in one call, without a Hash object: a third cheaper on paths that run per
// handshake or per request. Strings are hashed as UTF-8 either way.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: "hex" | "buffer") => string | Buffer })
  .hash;

/** SHA-256 of `value` (UTF-8) as 64 lowercase hex digits. */
export function sha256Hex(value: string): string {
  return oneShot !== undefined
    ? (oneShot("sha256", value, "hex") as string)
    : crypto.createHash("sha256").update(value, "utf8").digest("hex");
}

/** SHA-256 of `value` (UTF-8) as 32 bytes. */
export function sha256(value: string): Buffer {
  return oneShot !== undefined
    ? (oneShot("sha256", value, "buffer") as Buffer)
    : crypto.createHash("sha256").update(value, "utf8").digest();
}
