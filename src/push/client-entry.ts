// The entry point `socket.io-session-auth/push-client`: the HTTP client of the push router, for a
// back-end service that only pushes. Nothing here names socket.io, so such a service does not install it.

export { createPushClient } from "./client.js";
export type { PushClient, PushClientOptions, PushRequestOptions } from "./client.js";
export { PushError, isPushError, PUSH_ERROR_CODES, pushErrorStatus } from "./errors.js";
export type { PushErrorCode } from "./errors.js";
export type {
  OneOrMany,
  PushAccepted,
  PushAckOptions,
  PushAnswer,
  PushAnswerFor,
  PushBatchAnswer,
  PushDelivered,
  PushDisconnectRequest,
  PushExcept,
  PushFailure,
  PushLegacyMessage,
  PushMessage,
  PushOk,
  PushPresenceAnswer,
  PushPresenceRequest,
  PushRoomsRequest,
  PushTargets,
  PushTo,
  PushToAll,
} from "./types.js";
