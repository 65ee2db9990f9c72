import type { Server } from "socket.io";
import type { Socket as ClientSocket } from "socket.io-client";
import { sessionAuth, type SessionStore } from "socket.io-session-auth";

// Fragments of the lifecycle page, compiled here; the whole app is in docs/lifecycle.md itself.

export function options(store: SessionStore, secret: string, log: (code: string) => void) {
  // #region options
  const auth = sessionAuth({
    store,
    secret,
    revalidate: 300_000, // ms between re-reads of each connected session (default 5 min); false: none
    endEvent: "session:ended", // sent with { code } just before the server ends the socket; false: none
    onSessionEnd: (error, socket) => log(`${error.code} ${socket.id}`), // on the node that held the socket
  });
  // #endregion options
  return auth;
}

type Cart = { cart: string[] };

export function handlers(io: Server, store: SessionStore<Cart>, secret: string) {
  const auth = sessionAuth({ store, secret });
  io.on("connection", (socket) => {
    socket.on("cart:add", async (item: string) => {
      // #region reload-update
      const fresh = await auth.reload(socket); // re-read now; socket.data.session updated
      const saved = await auth.update(socket, (session) => {
        session.cart.push(item); // change the fresh copy you are given; may be async
      });
      // #endregion reload-update
      return [fresh, saved];
    });
  });
}

export function page(
  socket: ClientSocket,
  showLoginPrompt: (code: string) => void,
  onLoggedIn: (then: () => void) => void,
) {
  // #region client
  socket.on("session:ended", ({ code }: { code: string }) => {
    // SESSION_NOT_FOUND / SESSION_EXPIRED / UNAUTHENTICATED: the visitor must log in again.
    // FORBIDDEN: your authorize() refused them; say so.
    showLoginPrompt(code);
  });
  // After a new login over HTTP (a new session cookie), connect again:
  onLoggedIn(() => socket.connect());
  // #endregion client
}
