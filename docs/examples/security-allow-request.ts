import type { Server as HttpServer } from "node:http";
import { Server } from "socket.io";
import { sessionAuth, type SessionStore } from "socket.io-session-auth";

export function engineChecked(http: HttpServer, store: SessionStore, secret: string | string[]) {
  // #region allow-request
  const auth = sessionAuth({ store, secret });
  const io = new Server(http, { allowRequest: auth.allowRequest }); // refuses before any upgrade
  io.use(auth); // keep it: sets socket.data and the rooms, from the engine's result (no second lookup)
  // #endregion allow-request
  return io;
}
