import type { IncomingMessage } from "node:http";

// engine.io calls `allowRequest` and, once it answers, writes to the request's response. When the client
// went away while the session was being looked up, that write goes to a dead response: Node ignores it,
// but uWebSockets.js (`io.attachApp`) throws "uWS.HttpResponse must not be accessed after
// uWS.HttpResponse.onAborted callback" (socketio/engine.io#705, open for engine.io 6.6) — in a promise
// callback, an unhandled rejection that ends the process. So `allowRequest` asks this first, and does not
// answer a request that is gone (engine.io keeps nothing waiting on it: no timer, no client yet).

/** engine.io 6.6's `ResponseWrapper` for uWS (set when engine middlewares are used): it tracks the abort. */
interface WrappedUwsResponse {
  isAborted: boolean;
}

/** A raw uWS.HttpResponse: one `onAborted` handler per response, the last registered wins. */
interface UwsResponse {
  onAborted(handler: () => void): unknown;
}

/**
 * Starts watching `req` for an abort and returns the question to ask before answering it.
 *
 * - Node's engine: the request's socket is destroyed.
 * - uWebSockets.js with engine middlewares: engine.io's wrapper says `isAborted`.
 * - uWebSockets.js without: engine.io registered only a debug-logging `onAborted`; ours replaces it (uWS
 *   keeps one) and records the abort. Never done over the wrapper, whose own handler must stay.
 */
export function watchAbort(req: IncomingMessage): () => boolean {
  const res = (req as { res?: unknown }).res;
  if (typeof res === "object" && res !== null) {
    if (typeof (res as WrappedUwsResponse).isAborted === "boolean") return () => (res as WrappedUwsResponse).isAborted;
    if (typeof (res as UwsResponse).onAborted === "function" && !("socket" in res)) {
      let aborted = false;
      try {
        (res as UwsResponse).onAborted(() => {
          aborted = true;
        });
      } catch {
        // Already aborted: uWS throws on any access to the response.
        return () => true;
      }
      return () => aborted;
    }
  }
  return () => req.socket?.destroyed === true;
}

/**
 * Calls engine.io's `allowRequest` callback unless the request is gone; a throw from the engine's write
 * (a response that died between the check and the call) is swallowed rather than left to reject.
 *
 * @returns Whether the callback was called and returned.
 */
export function answerIfAlive(gone: () => boolean, answer: () => void, onFailure: (cause: unknown) => void): boolean {
  if (gone()) return false;
  try {
    answer();
    return true;
  } catch (cause) {
    onFailure(cause);
    return false;
  }
}
