// #region recovery
import type { Server as HttpServer } from "node:http";
import { Server } from "socket.io";
import { sessionAuth, type SessionStore } from "socket.io-session-auth";

export function recoveringRealtime(http: HttpServer, store: SessionStore, secret: string | string[]) {
  const auth = sessionAuth({ store, secret });
  const io = new Server(http, {
    // A socket that comes back within 2 minutes gets its id, rooms and missed packets back...
    connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000 },
    // ...but only if its session still holds: checked at the engine, before anything is restored.
    allowRequest: auth.allowRequest,
  });
  io.use(auth); // first connections; reuses the engine's result (one store lookup per connection)
  return io;
}
// #endregion recovery
