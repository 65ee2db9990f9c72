// The core entry, `socket.io-session-auth`: what an app uses. Adapter authors import
// `socket.io-session-auth/adapter`; the push router and its client have entries of their own.

export { sessionAuth } from "./auth.js";
export { defaultIdentify } from "./identify.js";
export type {
  AuthResult,
  AuthorizeContext,
  EndResult,
  LogoutRequest,
  HandshakeInfo,
  SessionAuth,
  SessionAuthOptions,
  SessionSocketData,
} from "./types.js";
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
export type { SigningScheme, KeygripAlgorithm } from "./cookies.js";
export type { OriginPolicy } from "./origin.js";
export { sessionKey, sessionRoom, userRoom } from "./rooms.js";
export { CHANNELS } from "./observe.js";
export type { HandshakeMessage, PushMessage, SessionEndMessage, SocketMessage, StoreMessage } from "./observe.js";
export { fetchAllowRequest, type FetchRequestLike } from "./engines/fetch.js";
export type { RoomNaming, RoomOptions } from "./rooms.js";
