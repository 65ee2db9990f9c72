export { sessionAuth, defaultIdentify } from "./auth.js";
export type {
  AuthResult,
  AuthorizeContext,
  HandshakeInfo,
  SessionAuth,
  SessionAuthOptions,
  SessionSocketData,
} from "./auth.js";
export { SessionAuthError, isSessionAuthError, SESSION_AUTH_ERROR_CODES } from "./errors.js";
export type { SessionAuthErrorCode } from "./errors.js";
export type {
  CompareAndSetOptions,
  SessionData,
  SessionRecord,
  SessionStore,
  StoreCookie,
  StoreGetOptions,
} from "./store.js";
export type { CookieSecret } from "./secrets.js";
export { abortable, describeValue, readSession } from "./adapter-helpers.js";
export { copySession } from "./copy.js";
export type { SigningScheme, KeygripAlgorithm } from "./cookies.js";
export type { OriginPolicy } from "./origin.js";
export { sessionKey, sessionRoom, userRoom } from "./rooms.js";
export type { RoomNaming, RoomOptions } from "./rooms.js";
