import type { IncomingMessage } from "node:http";
import { monotonicNow } from "./clock.js";
import type { Config } from "./config.js";
import { copyReadSession, isJsonRecord } from "./copy.js";
import { createCookieReader, requestIsSecure } from "./cookies.js";
import { isSessionAuthError, SessionAuthError } from "./errors.js";
import { identifyUser, unreadUser } from "./identify.js";
import { isPromiseLike } from "./internal/deadline.js";
import { causeOf } from "./internal/describe.js";
import { createFirstRefusalNotice } from "./internal/first-refusal.js";
import { crossSite, handshakeOf } from "./handshake-info.js";
import { log } from "./log.js";
import { createOriginCheck } from "./origin.js";
import { sessionKey } from "./rooms.js";
import { canonicalSessionId, type SessionRecord } from "./store.js";
import { createStoreCalls } from "./store-calls.js";
import type { HandshakeInfo } from "./types.js";
import type { Accepted, Checked, HandshakeDone, Pipeline, ReadDone, ReadShare, Settle } from "./pipeline-types.js";

// One handshake, checked: origin → cookie → signature → store lookup → expiry → identify → authorize.
// The glue runs it for sockets and the engine, the lifecycle for re-reads and writes.

/**
 * The handshake pipeline over a validated config. Every refusal is a {@link SessionAuthError}, logged
 * and handed to `onError` once.
 */
export function createPipeline<S extends object>(config: Config<S>, share?: ReadShare<S>): Pipeline<S> {
  const { store, identify, allowAnonymous, authorize, onError } = config;
  const readCookie = createCookieReader(config);
  const checkOrigin = createOriginCheck(config.origins);
  const noticeRefusal = createFirstRefusalNotice(onError !== undefined);

  const { lookupThen, write } = createStoreCalls(config);

  /**
   * The handshake check, in callbacks: one promise at most per store call (the store's own), none of
   * our own unless `origins` or `authorize` return one. Refusals are reported (log, onError) here.
   */
  function authenticateThen(req: IncomingMessage, handshake: HandshakeInfo | undefined, done: HandshakeDone<S>): void {
    let shared = false;
    const refuse = (error: unknown): void => done(reportRefusal(error, req), undefined, shared);
    let allowed: boolean | Promise<boolean>;
    try {
      allowed = checkOriginSafely(req);
    } catch (error) {
      return refuse(error);
    }
    if (allowed === true) return afterOrigin();
    if (allowed === false) return refuse(originRefusal(req));
    allowed.then((ok) => (ok ? afterOrigin() : refuse(originRefusal(req))), refuse);

    function afterOrigin(): void {
      let id: string, secretIndex: number, name: string, key: string;
      try {
        let value: string;
        ({ id: value, secretIndex, name } = readCookieExplained(req));
        id = canonicalIdOf(value);
        key = sessionKey(id);
      } catch (error) {
        return refuse(error);
      }
      const read = (settle: Settle<Checked<S>>): void => readChecked(id, secretIndex, false, name, settle);
      const onRead: ReadDone<S> = (error, checked, wasShared) => {
        shared = wasShared;
        if (error !== undefined) return refuse(error);
        // The one copy of this handshake: what `authorize` sees and the socket keeps. The record read may be
        // shared with other handshakes, so neither may change it.
        let session: S;
        try {
          session = copyReadSession(checked!);
        } catch (cause) {
          return refuse(cause);
        }
        const accepted: Accepted<S> = {
          key,
          result: { sessionId: id, session, userId: checked!.userId, secretIndex },
          read: checked!,
        };
        if (authorize === undefined) return done(undefined, accepted, shared);
        let info: HandshakeInfo;
        try {
          info = handshake ?? handshakeOf(req);
        } catch (error) {
          return refuse(error);
        }
        authorizeThen(session, checked!.userId, info, (refusal) =>
          refusal === undefined ? done(undefined, accepted, shared) : refuse(refusal),
        );
      };
      if (share === undefined) read((error, checked) => onRead(error, checked, false));
      else share(key, read, onRead);
    }
  }

  function authenticate(req: IncomingMessage, handshake: HandshakeInfo | undefined): Promise<Accepted<S>> {
    return new Promise((resolve, reject) =>
      authenticateThen(req, handshake, (error, accepted) => (error === undefined ? resolve(accepted!) : reject(error))),
    );
  }

  // Logged, handed to onError and noticed once; a thrown non-refusal becomes FORBIDDEN.
  function reportRefusal(error: unknown, req: IncomingMessage): SessionAuthError {
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
    return refusal;
  }

  function originRefusal(req: IncomingMessage): SessionAuthError {
    return new SessionAuthError(
      "ORIGIN_NOT_ALLOWED",
      `Origin ${JSON.stringify(req.headers.origin)} may not connect (Host: ${JSON.stringify(req.headers.host)}). ` +
        "Pages on other origins need the `origins` option.",
    );
  }

  // One store read and its checks (expiry, identity), begun now.
  function readChecked(
    id: string,
    verified: number | string,
    revision: boolean,
    cookieName: string | undefined,
    settle: Settle<Checked<S>>,
  ): void {
    const readAt = monotonicNow();
    lookupThen(id, verified, revision, cookieName, (error, record) => {
      if (error !== undefined) return settle(error);
      let checked: Checked<S>;
      try {
        checked = check(record!, readAt);
      } catch (refusal) {
        return settle(refusal as SessionAuthError);
      }
      if (!revision) checked.record = undefined;
      checked.cookieName = cookieName;
      settle(undefined, checked);
    });
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
    try {
      const verdict = checkOrigin(req);
      return typeof verdict === "boolean" ? verdict : Promise.resolve(verdict).then((value) => value === true, fail);
    } catch (cause) {
      return fail(cause);
    }
  }

  function fail(cause: unknown): never {
    throw new SessionAuthError("ORIGIN_NOT_ALLOWED", "The `origins` function threw; refused.", { cause });
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
    // Every field in the literal (cookieName and rooms are set later): the read may be kept for sharing,
    // and fields added afterwards would cost it a separate property store.
    return {
      session,
      userId,
      expires,
      record,
      json: isJsonRecord(record),
      readAt,
      cookieName: undefined,
      rooms: undefined,
    };
  }

  // `authorize`, without a promise when it answers synchronously. Whatever is not `true` refuses.
  function authorizeThen(
    session: S,
    userId: string | null,
    handshake: HandshakeInfo,
    settle: (refusal?: SessionAuthError) => void,
  ): void {
    const threw = (cause: unknown): void =>
      settle(new SessionAuthError("FORBIDDEN", "The `authorize` function threw; refused.", { cause }));
    const decide = (verdict: unknown): void =>
      settle(verdict === true ? undefined : new SessionAuthError("FORBIDDEN", "`authorize` did not resolve true."));
    let verdict: unknown;
    try {
      verdict = authorize!({ session, userId, handshake });
    } catch (cause) {
      return threw(cause);
    }
    if (isPromiseLike(verdict)) Promise.resolve(verdict).then(decide, threw);
    else decide(verdict);
  }

  return {
    config,
    authenticate,
    authenticateThen,
    reread: (sessionId, forWrite = false, cookieName) =>
      new Promise((resolve, reject) =>
        readChecked(sessionId, "re-read of a connected session", forWrite, cookieName, (error, checked) =>
          error === undefined ? resolve(checked!) : reject(error),
        ),
      ),
    check,
    authorize: (session, userId, handshake) =>
      authorize === undefined
        ? Promise.resolve()
        : new Promise((resolve, reject) =>
            authorizeThen(session, userId, handshake, (refusal) =>
              refusal === undefined ? resolve() : reject(refusal),
            ),
          ),
    write,
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
