// The entry point `socket.io-session-auth/push-client`: the HTTP client of the push router, for a
// back-end service that only pushes. Nothing here names socket.io, so such a service does not install it.

export { createPushClient } from "./client.js";
export type { PushClient, PushClientOptions, PushRequestOptions } from "./client.js";
export * from "./protocol.js";
