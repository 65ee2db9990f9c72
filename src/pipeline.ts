import type { IncomingMessage } from "node:http";
import { monotonicNow } from "./clock.js";
import type { Config } from "./config.js";
import { copySession } from "./copy.js";
import { createCookieReader, requestIsSecure } from "./cookies.js";
import { isSessionAuthError, SessionAuthError } from "./errors.js";
import { identifyUser, unreadUser } from "./identify.js";
import { isPromiseLike, withDeadline } from "./internal/deadline.js";
import { createDeadlines } from "./internal/deadlines.js";
import { causeOf, describeFailure } from "./internal/describe.js";
import { createFirstRefusalNotice } from "./internal/first-refusal.js";
import { crossSite, handshakeOf } from "./handshake-info.js";
import { log } from "./log.js";
import { storeTraced, traceStore } from "./observe.js";
import { createOriginCheck } from "./origin.js";
import { sessionKey } from "./rooms.js";
import { canonicalSessionId, type SessionRecord, type StoreGetOptions } from "./store.js";
import type { HandshakeInfo } from "./types.js";
import type { Accepted, Checked, HandshakeDone, Pipeline, ReadDone, ReadShare, Settle } from "./pipeline-types.js";

// One handshake, checked: origin → cookie → signature → store lookup → expiry → identify → authorize.
// The glue runs it for sockets and the engine, the lifecycle for re-reads and writes.

/**
 * The handshake pipeline over a validated config. Every refusal is a {@link SessionAuthError}, logged
 * and handed to `onError` once.
 */
export function createPipeline<S extends object>(config: Config<S>, share?: ReadShare<S>): Pipeline<S> {
  const { store, timeout, identify, allowAnonymous, authorize, onError } = config;
  const readCookie = createCookieReader(config);
  const checkOrigin = createOriginCheck(config.origins);
  const noticeRefusal = createFirstRefusalNotice(onError !== undefined);

  // One timer for every pending lookup (issue 22: no setTimeout per handshake).
  const deadlines = createDeadlines(timeout);

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
          session = copySession(checked!.session);
        } catch (cause) {
          return refuse(cause);
        }
        const accepted: Accepted<S> = {
          session: checked!.session,
          userId: checked!.userId,
          expires: checked!.expires,
          readAt: checked!.readAt,
          cookieName: checked!.cookieName,
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

  /**
   * One store lookup under `timeout` (one timer for all: `deadlines`), with an AbortSignal made only when
   * the store reads it (in-process stores never do). `verified` says how the id was proven, for the
   * diagnosis: a secret's index, or a text. Failures become STORE_UNAVAILABLE (a TypeError and its kin:
   * a misconfiguration, not retryable); no record, SESSION_NOT_FOUND.
   */
  function lookupThen(
    id: string,
    verified: number | string,
    revision: boolean,
    cookieName: string | undefined,
    settle: Settle<SessionRecord<S>>,
  ): void {
    let reported: unknown;
    let controller: AbortController | undefined;
    let over = false;
    // Answered once, then forgotten: a store that answers late, or never (a Redis that stopped replying
    // with the TCP link up), then holds no handshake (its request, socket and callbacks) until it gives up.
    let to: Settle<SessionRecord<S>> | undefined = settle;
    const deliver: Settle<SessionRecord<S>> = (error, record) => {
      const target = to;
      to = undefined;
      target?.(error, record);
    };
    const options: StoreGetOptions = {
      get signal() {
        return (controller ??= new AbortController()).signal;
      },
      report: (cause) => void (reported ??= cause),
      revision,
    };
    if (cookieName !== undefined && store.cookie !== undefined) options.cookieName = cookieName;
    // Between the core and this package's adapters only: this caller stops waiting at its own deadline
    // (so a store need not race `signal`, and can leave it unmade). Other callers of an adapter's `get`
    // do not set it, and keep the signal's full contract.
    (options as unknown as Record<symbol, boolean>)[OWN_DEADLINE] = true;
    const finish = (error: unknown, record?: SessionRecord<S> | null): void => {
      if (over) return;
      over = true;
      deadlines.clear(pending);
      if (error !== undefined) return deliver(storeFailure(`Store "${store.name}"`, verifiedText(verified), error));
      if (record === null || record === undefined) {
        const what = verifiedText(verified);
        return deliver(
          new SessionAuthError(
            "SESSION_NOT_FOUND",
            reported === undefined
              ? `No session for this ${what} (cookie "${config.name}") in store "${store.name}"${store.where === undefined ? "" : ` (${store.where})`} (logged out, expired, or written to another store).`
              : `The session in store "${store.name}" could not be read (${what}); see \`cause\`.`,
            reported === undefined ? undefined : { cause: reported },
          ),
        );
      }
      if (typeof record !== "object" || typeof record.session !== "object" || record.session === null) {
        return deliver(
          new SessionAuthError(
            "SESSION_NOT_FOUND",
            `Store "${store.name}" returned no session object (a store bug: get() must resolve { session } or null).`,
          ),
        );
      }
      deliver(undefined, record);
    };
    const pending = deadlines.set(() => {
      over = true;
      controller?.abort(new Error(`timeout after ${timeout} ms`));
      deliver(
        new SessionAuthError(
          "STORE_UNAVAILABLE",
          `Store "${store.name}" did not answer within ${timeout} ms (${verifiedText(verified)}).`,
        ),
      );
    });
    // This package's adapters answer a handshake's read through a callback too (no promise of theirs
    // nor of ours on the hot path, issue 22); only while nobody traces store calls, which needs a promise.
    const getThen = revision ? undefined : (store as { [GET_THEN]?: GetThen<S> })[GET_THEN];
    if (getThen !== undefined && getThen.get === store.get && !storeTraced()) {
      try {
        getThen.read(id, options, finish);
      } catch (error) {
        finish(error ?? new Error("store.get threw"));
      }
      return;
    }
    let answer: PromiseLike<SessionRecord<S> | null> | SessionRecord<S> | null;
    try {
      answer = traceStore("get", store.name, () => store.get(id, options));
    } catch (error) {
      return finish(error ?? new Error("store.get threw"));
    }
    if (isPromiseLike(answer))
      answer.then(
        (record) => finish(undefined, record),
        (error: unknown) => finish(error ?? new Error("store.get rejected")),
      );
    else finish(undefined, answer);
  }

  // One store call under `timeout`, with an AbortSignal made only when the store reads it (in-process
  // stores never do, and cost nothing). Failures become STORE_UNAVAILABLE; a TypeError and its kin are
  // a misconfiguration (a callback-style client, a wrong object), which no retry fixes.
  async function withTimeout<T>(
    what: string,
    verified: string,
    call: (options: { readonly signal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    try {
      return await withDeadline(
        (deadline) =>
          call({
            get signal() {
              return deadline.signal;
            },
          }),
        {
          ms: timeout,
          expired: () =>
            new SessionAuthError("STORE_UNAVAILABLE", `${what} did not answer within ${timeout} ms (${verified}).`),
        },
      );
    } catch (cause) {
      throw storeFailure(what, verified, cause);
    }
  }

  function storeFailure(what: string, verified: string, cause: unknown): SessionAuthError {
    if (isSessionAuthError(cause)) return cause;
    const mistake = cause instanceof TypeError || cause instanceof RangeError || cause instanceof ReferenceError;
    return new SessionAuthError(
      "STORE_UNAVAILABLE",
      mistake
        ? `${what} failed with a ${describeFailure(cause)} (${verified}): a misconfiguration or a bug, not an outage (a callback-style client, a wrong object?); see \`cause\`.`
        : `${what} failed: ${describeFailure(cause)} (${verified}).`,
      { cause, retryable: !mistake },
    );
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
    return { session, userId, expires, record, readAt, cookieName: undefined, rooms: undefined };
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

const OWN_DEADLINE = Symbol.for("socket.io-session-auth.ownDeadline");

/**
 * Between the core and this package's adapters only (never documented for others): `read` is `get` for
 * a read without a revision, answering through `done` once, `(error)` or `(undefined, record or null)`;
 * used only while the store's `get` is still the `get` it stands for (a wrapper may have replaced it).
 */
const GET_THEN = Symbol.for("socket.io-session-auth.getThen");
interface GetThen<S extends object> {
  readonly get: unknown;
  read(id: string, options: StoreGetOptions, done: (error: unknown, record?: SessionRecord<S> | null) => void): void;
}

function verifiedText(verified: number | string): string {
  if (typeof verified === "string") return verified;
  return verified < 0 ? "unsigned cookie" : `cookie verified by secret #${verified}`;
}
