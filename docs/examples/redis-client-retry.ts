// #region client-retry
// In the browser (or any socket.io-client): a refusal by a middleware is final for socket.io-client, so
// retry by hand when the server says the refusal is temporary (Redis down: STORE_UNAVAILABLE).
import { io, type ManagerOptions, type SocketOptions } from "socket.io-client";

type RetryOptions = Partial<ManagerOptions & SocketOptions> & { retryDelayMs?: number; maxRetries?: number };

export function connectWithRetry(url: string, { retryDelayMs = 2000, maxRetries = 10, ...options }: RetryOptions = {}) {
  const socket = io(url, { withCredentials: true, ...options });
  let retries = 0;
  socket.on("connect", () => (retries = 0));
  socket.on("connect_error", (err: Error & { data?: { code: string; retryable: boolean } }) => {
    if (err.data?.retryable && retries < maxRetries) {
      retries++;
      setTimeout(() => socket.connect(), retryDelayMs);
    } else if (err.data !== undefined) {
      console.warn(`not connected: ${err.data.code}`); // e.g. SESSION_NOT_FOUND: send to the login page
    }
  });
  return socket;
}
// #endregion client-retry
