export { sessionAuth } from "./auth.js";
export { defaultIdentify } from "./identify.js";
export type {
  AuthResult,
  AuthorizeContext,
  HandshakeInfo,
  SessionAuth,
  SessionAuthOptions,
  SessionSocketData,
} from "./types.js";
export { SessionAuthError, isSessionAuthError, SESSION_AUTH_ERROR_CODES } from "./errors.js";
export type { SessionAuthErrorCode } from "./errors.js";
export type { CompareAndSetOptions, SessionData, SessionRecord, SessionStore, StoreGetOptions } from "./store.js";
export { abortable, describeValue, readSession } from "./adapter-helpers.js";
export { copySession } from "./copy.js";
export type { SigningScheme, KeygripAlgorithm } from "./cookies.js";
export type { OriginPolicy } from "./origin.js";
export { sessionKey, sessionRoom, userRoom } from "./rooms.js";
export type { RoomNaming, RoomOptions } from "./rooms.js";
