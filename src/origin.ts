import type { IncomingMessage } from "node:http";

/**
 * Which page origins may open a socket with the visitor's cookie.
 * - a list of origins (`"https://app.example.com"`): exactly those; a request without `Origin` passes;
 * - a function: called with the request's `Origin` (or `undefined`) and decides.
 */
export type OriginPolicy =
  readonly string[] | ((origin: string | undefined, req: IncomingMessage) => boolean | Promise<boolean>);

/** A decided policy: true to accept. */
export type OriginCheck = (req: IncomingMessage) => boolean | Promise<boolean>;

/**
 * Without a policy: accept a request with no `Origin` (not a browser), or whose Origin's host equals
 * its `Host` header (same site). Browsers attach cookies to cross-site WebSocket handshakes, so
 * without this check any page on the web could open a socket as the visitor (cross-site WebSocket
 * hijacking).
 */
export function createOriginCheck(policy: OriginPolicy | undefined): OriginCheck {
  if (policy === undefined) return sameHost;
  if (typeof policy === "function") return (req) => policy(headerOf(req, "origin"), req);
  if (!Array.isArray(policy)) throw new TypeError("sessionAuth: `origins` must be an array of origins or a function.");
  const allowed = new Set<string>();
  for (const entry of policy) {
    const url = typeof entry === "string" ? parseUrl(entry) : undefined;
    const normalized = typeof entry === "string" ? normalizeOrigin(entry) : undefined;
    if (
      normalized === undefined ||
      url === undefined ||
      url.pathname !== "/" ||
      url.search !== "" ||
      url.hash !== "" ||
      url.username !== ""
    ) {
      throw new TypeError(
        `sessionAuth: \`origins\` entries must be origins like "https://app.example.com" (scheme, host, optional port; no path); got ${JSON.stringify(entry)}.`,
      );
    }
    allowed.add(normalized);
  }
  return (req) => {
    const origin = headerOf(req, "origin");
    if (origin === undefined) return true;
    const normalized = normalizeOrigin(origin);
    return normalized !== undefined && allowed.has(normalized);
  };
}

function sameHost(req: IncomingMessage): boolean {
  const origin = headerOf(req, "origin");
  if (origin === undefined) return true;
  const host = headerOf(req, "host");
  if (host === undefined) return false;
  const url = parseUrl(origin);
  if (url === undefined) return false;
  // Compare in the Origin's scheme so that default ports fold the same way on both sides.
  const hostUrl = parseUrl(`${url.protocol}//${host}`);
  return hostUrl !== undefined && hostUrl.host === url.host && hostUrl.pathname === "/";
}

/** `scheme://host[:port]`, lower case, default port dropped; undefined for anything else ("null" included). */
function normalizeOrigin(value: string): string | undefined {
  const url = parseUrl(value);
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) return undefined;
  return url.origin;
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function headerOf(req: IncomingMessage, name: "origin" | "host"): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}
