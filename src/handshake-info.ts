import type { IncomingMessage } from "node:http";
import type { HandshakeInfo } from "./types.js";

// What the pipeline reads of a request besides the cookie: the handshake `authorize` sees, and whether the
// page is on another site (for a diagnosis).

/** `Origin`'s host when it is not the `Host` (another site, or at least another host), for the diagnosis. */
export function crossSite(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (typeof origin !== "string" || typeof host !== "string") return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).hostname;
  } catch {
    return undefined;
  }
  const hostName = host.replace(/:\d+$/, "").toLowerCase();
  return originHost === hostName
    ? undefined
    : `Origin ${JSON.stringify(new URL(origin).host)}, Host ${JSON.stringify(host)}`;
}

/** What `authorize` sees of a plain HTTP request (the engine's, or `authenticate()`'s). */
export function handshakeOf(req: IncomingMessage): HandshakeInfo {
  const url = req.url ?? "/";
  const query: Record<string, string | string[]> = Object.create(null);
  let params: URLSearchParams;
  try {
    params = new URL(url, "http://x").searchParams;
  } catch {
    // A request target Node's HTTP server accepts but WHATWG URL does not (`//x:99999`): no query.
    params = new URLSearchParams();
  }
  for (const [key, value] of params) {
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return {
    headers: req.headers,
    url,
    address: req.socket?.remoteAddress,
    secure: Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted),
    query,
  };
}
