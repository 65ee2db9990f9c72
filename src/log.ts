import createDebug from "debug";

/**
 * The `debug` logger of this package: `DEBUG=socket.io-session-auth node app` (or `DEBUG=socket.io*`),
 * the convention of socket.io, engine.io and Express. Every refusal and every lifecycle end is logged
 * with the same server-side diagnosis `onError` and `onSessionEnd` get: never a secret, a session id or
 * stored session bytes.
 */
export const log = createDebug("socket.io-session-auth");
