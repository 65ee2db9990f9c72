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

// A Host that `new URL` reads as itself: lowercase DNS labels, the last one starting with a letter (so
// never an IPv4 address or a number, which URL parses and may refuse), no punycode label (which URL
// validates), and an optional port. Anything else takes the URL parse.
const PLAIN_HOST = /^(?!.*xn--)(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*(?::(\d{1,5}))?$/;

function sameHost(req: IncomingMessage): boolean {
  const origin = headerOf(req, "origin");
  if (origin === undefined) return true;
  const host = headerOf(req, "host");
  if (host === undefined) return false;
  // What browsers send for a page on the socket's own host: the Origin is the scheme and the Host, as
  // is. Decided without parsing either (issue 22: two URL parses per handshake otherwise).
  if (origin.length === host.length + 7 || origin.length === host.length + 8) {
    const plain = (origin === `http://${host}` || origin === `https://${host}`) && PLAIN_HOST.exec(host);
    if (plain && (plain[1] === undefined || Number(plain[1]) <= 65_535)) return true;
  }
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
