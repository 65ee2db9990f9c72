import type { IncomingMessage } from "node:http";
import type { SessionAuth } from "../types.js";

/** A WHATWG `Request`, as much of it as the check reads (Bun's, Deno's, undici's). */
export interface FetchRequestLike {
  readonly url: string;
  readonly headers: { forEach(callback: (value: string, key: string) => void): void };
}

/**
 * `allowRequest` for engines that hand it a WHATWG `Request` and await a promise: socket.io's Bun engine
 * (`@socket.io/bun-engine`, whose option is `allowRequest?: (req: Request, server) => Promise<void>`).
 * Resolves when the handshake's session is accepted; rejects with the {@link SessionAuthError} otherwise,
 * which the engine answers as a refusal. Checks what `auth.allowRequest` checks (Origin, cookie,
 * signature, store, expiry, identity, `authorize`), and `onError` and the debug log see every refusal.
 *
 * The request carries no socket address (`HandshakeInfo.address` is undefined) and counts as secure when
 * its URL is `https:`. Unlike `auth.allowRequest` on Node's engine, the middleware does not reuse the
 * result: a socket accepted here is looked up again by `io.use(auth)` / `attach`, which is what sets
 * `socket.data` and the rooms.
 *
 * @example
 * const engine = new Engine({ path: "/socket.io/", allowRequest: fetchAllowRequest(auth) });
 */
export function fetchAllowRequest(
  auth: Pick<SessionAuth<object>, "authenticate">,
): (req: FetchRequestLike) => Promise<void> {
  return (req) => auth.authenticate(incomingOf(req)).then(() => undefined);
}

/** The parts of an `IncomingMessage` the handshake check reads, from a fetch `Request`. */
function incomingOf(req: FetchRequestLike): IncomingMessage {
  const headers: Record<string, string> = Object.create(null);
  req.headers.forEach((value, key) => {
    headers[key.toLowerCase()] = value;
  });
  let url = "/";
  let secure = false;
  try {
    const parsed = new URL(req.url);
    url = parsed.pathname + parsed.search;
    secure = parsed.protocol === "https:";
    // HTTP/2 and some runtimes give no Host header; the Origin policy compares against it.
    headers.host ??= parsed.host;
  } catch {
    // A relative or broken URL: the check goes on with "/", and the Origin policy with the headers alone.
  }
  return { headers, url, method: "GET", socket: { encrypted: secure } } as unknown as IncomingMessage;
}
