import type { IncomingMessage } from "node:http";
import type { Config } from "./config.js";
import type { SessionAuthError } from "./errors.js";
import type { SessionRecord } from "./store.js";
import type { AuthResult, HandshakeInfo } from "./types.js";

// The pipeline's shapes: what a checked read, an accepted handshake and the callbacks of the handshake
// path are, as the glue, the lifecycle and the pipeline itself name them.

/** A session read from the store and checked: what the lifecycle keeps of it. */
export interface Checked<S extends object> {
  session: S;
  userId: string | null;
  /** When the store says the session ends (ms since the epoch), or null when it does not say. */
  expires: number | null;
  /**
   * The record read, kept only for a read that asked for a revision (`update`'s, which reads its
   * `revision`): a handshake's read may be kept for `sharedReadMaxAge`, and needs none of it.
   */
  record?: SessionRecord<S>;
  /**
   * Whether the store's adapter (one of this package's) marked the record as JSON data made for this read:
   * its copies then skip the checks JSON cannot need (`copyReadSession`).
   */
  json: boolean;
  /** When the store read began (on {@link monotonicNow}'s clock): an end of the session after it may have been missed. */
  readAt: number;
  /** Which of the configured cookie names the session came from (handed to the store on re-reads). */
  cookieName?: string;
  /**
   * The rooms a socket accepted through this read joins, named once per read by the glue: the sockets
   * sharing a read share the strings too (issue 22: no room-name string per socket).
   */
  rooms?: readonly string[];
}

/**
 * An accepted handshake: the public result plus what the lifecycle needs. What the read says (the user,
 * when it began...) is read from `read`, not copied here.
 */
export interface Accepted<S extends object> {
  result: AuthResult<S>;
  /**
   * The read itself (shared by every handshake it answered): what the lifecycle keeps, rather than this
   * per-handshake object (issue 22: a kept read costs one object per session, not per socket).
   */
  read: Checked<S>;
  /** `sessionKey(result.sessionId)`: the public stand-in for the id, for the session room and the lifecycle. */
  key: string;
}

/** A callback of the handshake path: a refusal, or the value. */
export type Settle<T> = (error: SessionAuthError | undefined, value?: T) => void;

/** How a handshake's read ends: a refusal or the read; `shared` when it was another handshake's read. */
export type ReadDone<S extends object> = (
  error: SessionAuthError | undefined,
  checked: Checked<S> | undefined,
  shared: boolean,
) => void;

/** How a handshake ends: a refusal or the accepted handshake; `shared` when its read was another's. */
export type HandshakeDone<S extends object> = (
  error: SessionAuthError | undefined,
  accepted: Accepted<S> | undefined,
  shared: boolean,
) => void;

/**
 * Where the handshake's store read comes from: `read()` reads the store (and checks the record); the
 * lifecycle may answer from a read it shares instead (DESIGN "Reconnect storms"). `key` is
 * `sessionKey(id)`. Whatever it answers is never handed out: each handshake copies it. Callbacks, not
 * promises: the handshake's hot path (issue 22).
 */
export type ReadShare<S extends object> = (
  key: string,
  read: (settle: Settle<Checked<S>>) => void,
  done: ReadDone<S>,
) => void;

/** The pipeline, as the glue and the lifecycle use it. */
export interface Pipeline<S extends object> {
  readonly config: Config<S>;
  /**
   * The whole handshake check; every refusal goes to `onError` and the debug log. `result.session` is the
   * caller's own copy; the `session` beside it is the one read (shared: never handed out).
   */
  authenticate(req: IncomingMessage, handshake: HandshakeInfo | undefined): Promise<Accepted<S>>;
  /** {@link authenticate} with a callback (the glue's: no promise on the handshake path); `shared` as in {@link ReadDone}. */
  authenticateThen(req: IncomingMessage, handshake: HandshakeInfo | undefined, done: HandshakeDone<S>): void;
  /** A re-read of a known session: lookup, expiry, identity (`authorize` is the caller's, per socket). */
  reread(sessionId: string, forWrite?: boolean, cookieName?: string): Promise<Checked<S>>;
  /** Expiry and identity of a record (throws the refusal). */
  check(record: SessionRecord<S>, readAt: number): Checked<S>;
  authorize(session: S, userId: string | null, handshake: HandshakeInfo): Promise<void>;
  /** `store.compareAndSet` under the same timeout as lookups. */
  write(sessionId: string, revision: unknown, session: S): Promise<boolean>;
}
