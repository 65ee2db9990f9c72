export { createPushRouter } from "./router.js";
export type { PushIdempotencyOptions, PushRouter, PushRouterOptions } from "./router.js";
export type { PushRedisClient } from "./idempotency.js";
export { createPushClient } from "./client.js";
export type { PushClient, PushClientOptions, PushRequestOptions } from "./client.js";
export { PushError, isPushError, PUSH_ERROR_CODES, pushErrorStatus } from "./errors.js";
export type { PushErrorCode } from "./errors.js";
export type { PushHandler } from "./http.js";
export { RESERVED_EVENTS } from "./validate.js";
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
