import type { SessionAuthError } from "../errors.js";
import { log } from "../log.js";

/**
 * DESIGN Core, "Nothing is silent by default": with neither `DEBUG=socket.io-session-auth` nor `onError`
 * set, and `NODE_ENV` not `production`, the first refusal of each code prints one line to stderr saying
 * what happened and how to see more. "My socket does not connect" is then answered on the first run; a
 * production server prints nothing it was not asked for.
 *
 * The line holds the refusal's diagnosis (its `message`, which by the rules of every refusal never quotes
 * a secret, a session id, a token or session contents) and never its `cause` (a driver's error may quote
 * a key). Once per code and per `sessionAuth`: an attacker repeating a refusal prints nothing more.
 *
 * @param hasOnError Whether the app set `onError` (then the app already hears of every refusal).
 * @param write Where the line goes; `process.stderr` by default (a parameter for tests only).
 * @returns A function to call with every refusal, after the debug log and `onError`.
 */
export function createFirstRefusalNotice(
  hasOnError: boolean,
  write: (line: string) => void = (line) => void process.stderr.write(line),
): (refusal: SessionAuthError) => void {
  if (hasOnError) return () => {};
  const said = new Set<string>();
  return (refusal) => {
    // Read at each refusal, not at construction: apps set NODE_ENV or enable debug after importing us.
    if (said.has(refusal.code) || log.enabled || process.env.NODE_ENV === "production") return;
    said.add(refusal.code);
    write(
      `socket.io-session-auth: refused a handshake: ${refusal.code}: ${refusal.message} ` +
        "(said once per code outside production; DEBUG=socket.io-session-auth logs every refusal, `onError` hands them to your code)\n",
    );
  };
}
