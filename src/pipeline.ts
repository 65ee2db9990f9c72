import type { IncomingMessage } from "node:http";
import { monotonicNow } from "./clock.js";
import type { Config } from "./config.js";
import { copySession } from "./copy.js";
import { createCookieReader, requestIsSecure } from "./cookies.js";
import { isSessionAuthError, SessionAuthError } from "./errors.js";
import { identifyUser, unreadUser } from "./identify.js";
import { withDeadline } from "./internal/deadline.js";
import { causeOf, describeFailure } from "./internal/describe.js";
import { createFirstRefusalNotice } from "./internal/first-refusal.js";
import { log } from "./log.js";
import { traceStore } from "./observe.js";
import { createOriginCheck } from "./origin.js";
import { sessionKey } from "./rooms.js";
import { canonicalSessionId, type SessionRecord, type StoreGetOptions } from "./store.js";
import type { AuthResult, HandshakeInfo } from "./types.js";

// One handshake, checked: origin → cookie → signature → store lookup → expiry → identify → authorize.
// The glue runs it for sockets and the engine, the lifecycle for re-reads and writes.

/** A session read from the store and checked: what the lifecycle keeps of it. */
export interface Checked<S extends object> {
  session: S;
  userId: string | null;
  /** When the store says the session ends (ms since the epoch), or null when it does not say. */
  expires: number | null;
  /** The record read: its `revision` (which a store may compute on demand) is read by `update` only. */
  record: SessionRecord<S>;
  /** When the store read began (on {@link monotonicNow}'s clock): an end of the session after it may have been missed. */
  readAt: number;
  /** Which of the configured cookie names the session came from (handed to the store on re-reads). */
  cookieName?: string;
}

/** An accepted handshake: the public result plus what the lifecycle needs. */
export interface Accepted<S extends object> extends Checked<S> {
  result: AuthResult<S>;
  /** `sessionKey(result.sessionId)`: the public stand-in for the id, for the session room and the lifecycle. */
  key: string;
}

/**
 * Where the handshake's store read comes from: `read()` reads the store (and checks the record); the
 * lifecycle may answer from a read it shares instead (DESIGN "Reconnect storms"). `key` is
 * `sessionKey(id)`. Whatever it resolves is never handed out: each handshake copies it.
 */
export type ReadShare<S extends object> = (key: string, read: () => Promise<Checked<S>>) => Promise<Checked<S>>;

/** The pipeline, as the glue and the lifecycle use it. */
export interface Pipeline<S extends object> {
  readonly config: Config<S>;
  /**
   * The whole handshake check; every refusal goes to `onError` and the debug log. `result.session` is the
   * caller's own copy; the `session` beside it is the one read (shared: never handed out).
   */
  authenticate(req: IncomingMessage, handshake: HandshakeInfo | undefined): Promise<Accepted<S>>;
  /** A re-read of a known session: lookup, expiry, identity (`authorize` is the caller's, per socket). */
  reread(sessionId: string, forWrite?: boolean, cookieName?: string): Promise<Checked<S>>;
  /** Expiry and identity of a record (throws the refusal). */
  check(record: SessionRecord<S>, readAt: number): Checked<S>;
  authorize(session: S, userId: string | null, handshake: HandshakeInfo): Promise<void>;
  /** `store.compareAndSet` under the same timeout as lookups. */
  write(sessionId: string, revision: unknown, session: S): Promise<boolean>;
}

/**
 * The handshake pipeline over a validated config. Every refusal is a {@link SessionAuthError}, logged
 * and handed to `onError` once.
 */
export function createPipeline<S extends object>(config: Config<S>, share?: ReadShare<S>): Pipeline<S> {
  const { store, timeout, identify, allowAnonymous, authorize, onError } = config;
  const readCookie = createCookieReader(config);
  const checkOrigin = createOriginCheck(config.origins);
  const noticeRefusal = createFirstRefusalNotice(onError !== undefined);

  async function authenticate(req: IncomingMessage, handshake: HandshakeInfo | undefined): Promise<Accepted<S>> {
    try {
      const allowed = checkOriginSafely(req);
      if (allowed !== true && (allowed === false || !(await allowed))) {
        throw new SessionAuthError(
          "ORIGIN_NOT_ALLOWED",
          `Origin ${JSON.stringify(req.headers.origin)} may not connect (Host: ${JSON.stringify(req.headers.host)}). ` +
            "Pages on other origins need the `origins` option.",
        );
      }
      const { id: value, secretIndex, name } = readCookieExplained(req);
      const id = canonicalIdOf(value);
      const key = sessionKey(id);
      const read = async (): Promise<Checked<S>> => {
        const readAt = monotonicNow();
        const checked = check(
          await lookup(
            id,
            secretIndex < 0 ? "unsigned cookie" : `cookie verified by secret #${secretIndex}`,
            false,
            name,
          ),
          readAt,
        );
        checked.cookieName = name;
        return checked;
      };
      const checked = await (share === undefined ? read() : share(key, read));
      // The one copy of this handshake: what `authorize` sees and the socket keeps. The record read may be
      // shared with other handshakes, so neither may change it.
      const session = copySession(checked.session);
      if (authorize !== undefined) await applyAuthorize(session, checked.userId, handshake ?? handshakeOf(req));
      return { ...checked, key, result: { sessionId: id, session, userId: checked.userId, secretIndex } };
    } catch (error) {
      const refusal = isSessionAuthError(error)
        ? error
        : new SessionAuthError("FORBIDDEN", "Unexpected failure while authenticating; refused to stay safe.", {
            cause: error,
          });
      log("refused a handshake: %s (%s)%s", refusal.code, refusal.message, causeOf(refusal));
      if (onError !== undefined) {
        try {
          onError(refusal, req);
        } catch {
          // A throwing logger must not turn a refusal into a crash.
        }
      }
      noticeRefusal(refusal);
      throw refusal;
    }
  }

  // Several cookie values may stand for one session (store.canonicalId): one id, one key, one room.
  function canonicalIdOf(value: string): string {
    try {
      return canonicalSessionId(store, value);
    } catch (cause) {
      throw new SessionAuthError("MALFORMED_COOKIE", `Store "${store.name}" could not read the cookie's session id.`, {
        cause,
      });
    }
  }

  function readCookieExplained(req: IncomingMessage) {
    try {
      return readCookie(req.headers.cookie, { secure: requestIsSecure(req) });
    } catch (error) {
      const site = crossSite(req);
      if (!isSessionAuthError(error) || error.code !== "NO_SESSION_COOKIE" || site === undefined) throw error;
      // A page on another site: the usual culprit is the cookie's SameSite attribute, not the client.
      throw new SessionAuthError(
        "NO_SESSION_COOKIE",
        `${error.message} The page is on another site (${site}): browsers send a cookie on a cross-site request only when it is ` +
          "`SameSite=None; Secure` (express-session's default leaves SameSite to the browser, which treats it as Lax), and the client " +
          'must connect with `withCredentials: true`. Serve the page and the socket from one site, or set the cookie `sameSite: "none", secure: true`.',
      );
    }
  }

  // Synchronous for lists and the default policy (the common case costs no promise); a function's
  // promise is awaited by the caller. Whatever throws or rejects refuses.
  function checkOriginSafely(req: IncomingMessage): boolean | Promise<boolean> {
    const fail = (cause: unknown): never => {
      throw new SessionAuthError("ORIGIN_NOT_ALLOWED", "The `origins` function threw; refused.", { cause });
    };
    try {
      const verdict = checkOrigin(req);
      return typeof verdict === "boolean" ? verdict : Promise.resolve(verdict).then((value) => value === true, fail);
    } catch (cause) {
      return fail(cause);
    }
  }

  async function lookup(
    id: string,
    verified: string,
    revision: boolean,
    cookieName: string | undefined,
  ): Promise<SessionRecord<S>> {
    let reported: unknown;
    const record = await withTimeout(
      `Store "${store.name}"`,
      verified,
      (options) =>
        traceStore("get", store.name, () =>
          store.get(
            id,
            cookieName === undefined || store.cookie === undefined ? options : Object.assign(options, { cookieName }),
          ),
        ),
      (cause) => void (reported ??= cause),
      revision,
    );
    if (record === null || record === undefined) {
      throw new SessionAuthError(
        "SESSION_NOT_FOUND",
        reported === undefined
          ? `No session for this ${verified} (cookie "${config.name}") in store "${store.name}"${store.where === undefined ? "" : ` (${store.where})`} (logged out, expired, or written to another store).`
          : `The session in store "${store.name}" could not be read (${verified}); see \`cause\`.`,
        reported === undefined ? undefined : { cause: reported },
      );
    }
    if (typeof record !== "object" || typeof record.session !== "object" || record.session === null) {
      throw new SessionAuthError(
        "SESSION_NOT_FOUND",
        `Store "${store.name}" returned no session object (a store bug: get() must resolve { session } or null).`,
      );
    }
    return record;
  }

  // One store call under `timeout`, with an AbortSignal made only when the store reads it (in-process
  // stores never do, and cost nothing). Failures become STORE_UNAVAILABLE; a TypeError and its kin are
  // a misconfiguration (a callback-style client, a wrong object), which no retry fixes.
  async function withTimeout<T>(
    what: string,
    verified: string,
    call: (options: StoreGetOptions) => Promise<T>,
    report: (cause: unknown) => void = () => {},
    revision = true,
  ): Promise<T> {
    try {
      return await withDeadline(
        (deadline) =>
          call({
            get signal() {
              return deadline.signal;
            },
            report,
            revision,
          }),
        {
          ms: timeout,
          expired: () =>
            new SessionAuthError("STORE_UNAVAILABLE", `${what} did not answer within ${timeout} ms (${verified}).`),
        },
      );
    } catch (cause) {
      if (isSessionAuthError(cause)) throw cause;
      const mistake = cause instanceof TypeError || cause instanceof RangeError || cause instanceof ReferenceError;
      throw new SessionAuthError(
        "STORE_UNAVAILABLE",
        mistake
          ? `${what} failed with a ${describeFailure(cause)} (${verified}): a misconfiguration or a bug, not an outage (a callback-style client, a wrong object?); see \`cause\`.`
          : `${what} failed: ${describeFailure(cause)} (${verified}).`,
        { cause, retryable: !mistake },
      );
    }
  }

  function check(record: SessionRecord<S>, readAt: number): Checked<S> {
    const session = record.session;
    let expires: number | null = null;
    if (record.expires !== null && record.expires !== undefined) {
      expires = timeOf(record.expires);
      if (!(expires > Date.now())) {
        throw new SessionAuthError(
          "SESSION_EXPIRED",
          `The session expired (store "${store.name}"; its record ended ${formatDate(expires)}).`,
        );
      }
    }
    const userId = identifyUser(identify, session);
    if (userId === null && !allowAnonymous) {
      const found = unreadUser(session);
      throw new SessionAuthError(
        "UNAUTHENTICATED",
        found === undefined
          ? "The session identifies no user (not logged in). Set `identify` if your app keeps the user elsewhere, or `allowAnonymous: true`."
          : `The session identifies no user the default way, though ${found}: pass \`identify: (session) => ...\` returning the user's id from it.`,
      );
    }
    return { session, userId, expires, record, readAt };
  }

  async function applyAuthorize(session: S, userId: string | null, handshake: HandshakeInfo): Promise<void> {
    let verdict: unknown;
    try {
      verdict = await authorize!({ session, userId, handshake });
    } catch (cause) {
      throw new SessionAuthError("FORBIDDEN", "The `authorize` function threw; refused.", { cause });
    }
    if (verdict !== true) throw new SessionAuthError("FORBIDDEN", "`authorize` did not resolve true.");
  }

  return {
    config,
    authenticate,
    reread: async (sessionId, forWrite = false, cookieName) => {
      const readAt = monotonicNow();
      const checked = check(await lookup(sessionId, "re-read of a connected session", forWrite, cookieName), readAt);
      checked.cookieName = cookieName;
      return checked;
    },
    check,
    authorize: (session, userId, handshake) =>
      authorize === undefined ? Promise.resolve() : applyAuthorize(session, userId, handshake),
    write: (sessionId, revision, session) => {
      const compareAndSet = store.compareAndSet!;
      return withTimeout(`Store "${store.name}" (compareAndSet)`, "write of a connected session", ({ signal }) =>
        traceStore("compareAndSet", store.name, () =>
          compareAndSet.call(store, sessionId, revision, session, { signal }),
        ),
      ).then((written) => written === true);
    },
  };
}

/** `Origin`'s host when it is not the `Host` (another site, or at least another host), for the diagnosis. */
function crossSite(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (typeof origin !== "string" || typeof host !== "string") return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).hostname;
  } catch {
    return undefined;
  }
  const hostName = host.replace(/:\d+$/, "").toLowerCase();
  return originHost === hostName
    ? undefined
    : `Origin ${JSON.stringify(new URL(origin).host)}, Host ${JSON.stringify(host)}`;
}

export function handshakeOf(req: IncomingMessage): HandshakeInfo {
  const url = req.url ?? "/";
  const query: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of new URL(url, "http://x").searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return {
    headers: req.headers,
    url,
    address: req.socket?.remoteAddress,
    secure: Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted),
    query,
  };
}

// `expires` as milliseconds: a Date (from any realm), or the ISO string or number a JavaScript adapter
// may hand back; anything else is NaN, which counts as expired (fail closed).
function timeOf(value: unknown): number {
  if (Object.prototype.toString.call(value) === "[object Date]") return (value as Date).getTime();
  if (typeof value === "string" || typeof value === "number") return new Date(value).getTime();
  return Number.NaN;
}

function formatDate(time: number): string {
  return Number.isNaN(time) ? "at an unreadable time" : `at ${new Date(time).toISOString()}`;
}
