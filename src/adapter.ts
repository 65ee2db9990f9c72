// The entry point for adapter authors, `socket.io-session-auth/adapter`: the store contract and the
// helpers every adapter of this package uses (and only this entry: see adapters/). Apps import the core
// entry instead; none of this is needed to use a store.

export type {
  CompareAndSetOptions,
  SessionData,
  SessionRecord,
  SessionStore,
  StoreCookie,
  StoreGetOptions,
} from "./store.js";
export { readSession } from "./read-session.js";
export { abortable, isPromiseLike } from "./internal/deadline.js";
export { copySession } from "./copy.js";
export { describeOption, describeValue, describeFailure } from "./internal/describe.js";
export { describeGiven, driverKind, type DriverKind } from "./internal/driver-kind.js";
export { rejectUnknownOptions, type UnknownOptionHelp } from "./internal/options.js";
export { emitWarning, WARNING_PREFIX, type WarningName } from "./internal/warn.js";
export { redisFlavor, redisNotReady, type RedisFlavor } from "./internal/redis.js";
