// #region origins
import type { Server as HttpServer } from "node:http";
import { Server } from "socket.io";
import { sessionAuth, type SessionStore } from "socket.io-session-auth";

/**
 * socket.io on its own origin (https://realtime.example.com), the pages on https://app.example.com.
 * Two settings, two jobs: `cors` lets the browser make the cross-origin requests at all (and read
 * the answers); `origins` decides which pages may open a socket with the visitor's cookie. CORS does
 * not guard WebSocket handshakes, so `origins` is the one that stops cross-site WebSocket hijacking.
 */
export function crossOriginRealtime(
  http: HttpServer,
  store: SessionStore,
  secret: string | string[],
  appOrigins: string[],
) {
  const io = new Server(http, { cors: { origin: appOrigins, credentials: true } });
  io.use(sessionAuth({ store, secret, origins: appOrigins }));
  return io;
}
// #endregion origins
