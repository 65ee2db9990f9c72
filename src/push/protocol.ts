// What the push router and its HTTP client agree on: the message and answer types and the error they
// both throw. Both entries, `/push` and `/push-client`, re-export this list, so the two surfaces cannot
// drift apart; nothing here names socket.io, which keeps `/push-client`'s types free of it.

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
