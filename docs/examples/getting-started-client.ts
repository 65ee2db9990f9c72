// #region client
import { io, type ManagerOptions, type SocketOptions } from "socket.io-client";

/** What a refused socket's `connect_error` carries in `err.data`: the code, nothing else. */
interface Refusal {
  code: string;
  retryable: boolean;
}

export function openLiveFeed(show: (line: string) => void, url?: string, options: Partial<ManagerOptions & SocketOptions> = {}) {
  // The page and socket.io on the same origin: io() and the browser sends the session cookie itself.
  // socket.io on another origin: io(url, { withCredentials: true }), or the browser sends no cookie
  // at all (NO_SESSION_COOKIE); that server then needs CORS with credentials and `origins`.
  const socket = url === undefined ? io(options) : io(url, { withCredentials: true, ...options });

  socket.on("welcome", ({ userId, tabs }: { userId: string; tabs: number }) => show(`signed in as ${userId} (${tabs} tab(s))`));
  socket.on("said", ({ from, text }: { from: string; text: string }) => show(`${from}: ${text}`));
  socket.on("whispered", ({ from, text }: { from: string; text: string }) => show(`${from} (to you): ${text}`));

  socket.on("connect_error", (err) => {
    if (socket.active) return; // a network blip: socket.io-client retries by itself
    // Refused by the server: socket.io-client does not retry on its own.
    const refusal = (err as Error & { data?: Refusal }).data;
    if (refusal?.retryable) setTimeout(() => socket.connect(), 2000); // STORE_UNAVAILABLE: try again soon
    else show(`not connected: ${err.message}`); // NO_SESSION_COOKIE, SESSION_NOT_FOUND...: log in first
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io server disconnect") show("signed out"); // the server closed it (logout)
  });
  return socket;
}
// #endregion client
