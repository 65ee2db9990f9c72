import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { PushError } from "./errors.js";
import {
  DEFAULT_ACK_TIMEOUT,
  type PushAccepted,
  type PushAnswerFor,
  type PushBatchAnswer,
  type PushDisconnectRequest,
  type PushLegacyMessage,
  type PushMessage,
  type PushOk,
  type PushPresenceAnswer,
  type PushRoomsRequest,
} from "./types.js";
import { rejectUnknownOptions } from "../internal/options.js";

export interface PushClientOptions {
  /** The router's base URL: `http://realtime:3000/push` (its `path` included). */
  url: string | URL;
  /** One of the router's `tokens`; sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Milliseconds one attempt may take (default 10 000); a message with `ack` gets its ack timeout plus a second at least. */
  timeout?: number;
  /** Further attempts after a network error, a timeout or a 5xx (default 2), with exponential backoff. */
  retries?: number;
  /** A `fetch` of your own (a custom dispatcher, a test double); default the global one. */
  fetch?: typeof fetch;
}

export interface PushRequestOptions {
  /** Reused by every retry of this call, so the router emits once. Default: the message's `id`, else a random UUID. */
  idempotencyKey?: string;
  /** Cancels the call, retries and backoff included (it rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface PushClient {
  /** `POST <path>`: resolves with the router's answer, rejects with a {@link PushError} on any non-2xx. */
  send<M extends PushMessage>(message: M, options?: PushRequestOptions): Promise<PushAnswerFor<M>>;
  /** `POST <path>/batch`: at most `maxBatch` messages, run in order, one result per message. */
  batch(messages: readonly PushMessage[], options?: PushRequestOptions): Promise<PushBatchAnswer>;
  /** `POST <path>/legacy`: the original `{ type, pointer, content }`. */
  legacy(message: PushLegacyMessage, options?: PushRequestOptions): Promise<PushAccepted>;
  /** `POST <path>/disconnect`. */
  disconnect(request: PushDisconnectRequest, options?: Pick<PushRequestOptions, "signal">): Promise<PushOk>;
  /** `POST <path>/rooms/join`. */
  join(request: PushRoomsRequest, options?: Pick<PushRequestOptions, "signal">): Promise<PushOk>;
  /** `POST <path>/rooms/leave`. */
  leave(request: PushRoomsRequest, options?: Pick<PushRequestOptions, "signal">): Promise<PushOk>;
  /** `POST <path>/presence`: how many sockets each user has online, cluster-wide. */
  presence(
    users: ReadonlyArray<string | number>,
    options?: { namespace?: string; signal?: AbortSignal },
  ): Promise<Record<string, number>>;
  /** `GET <path>/health`: resolves when the router answers 200, rejects with `SHUTTING_DOWN` (503) otherwise. */
  health(options?: Pick<PushRequestOptions, "signal">): Promise<PushOk>;
}

const DEFAULT_TIMEOUT = 10_000;
const DEFAULT_RETRIES = 2;
const MAX_RETRIES = 10;
const BACKOFF_BASE = 100;
const BACKOFF_MAX = 2000;
const KNOWN_OPTIONS = new Set(["url", "token", "timeout", "retries", "fetch"]);

/**
 * An HTTP client for the push router, for the back-end services that push. Network errors, timeouts and
 * 5xx answers are retried with exponential backoff, always with the same `Idempotency-Key`, so a retry
 * of a push that did reach the router is answered from its memory instead of emitted twice.
 *
 * Throws a `TypeError` naming the option when the options are wrong.
 */
export function createPushClient(options: PushClientOptions): PushClient {
  const { base, token, timeout, retries, fetcher } = validateOptions(options);
  const authorization = `Bearer ${token}`;

  async function call<T>(
    method: "GET" | "POST",
    suffix: string,
    body: unknown,
    settings: { key?: string; signal?: AbortSignal; timeout?: number },
  ): Promise<T> {
    let payload: string | undefined;
    try {
      payload = body === undefined ? undefined : JSON.stringify(body);
    } catch (cause) {
      // A BigInt id (or a cycle in data) cannot be sent as JSON: refuse before the network, as the
      // router would (a user id too large for a JSON number must be sent as a string anyway).
      throw new PushError(
        "INVALID_MESSAGE",
        `The message cannot be sent as JSON (${cause instanceof Error ? cause.message : String(cause)}); send large ids as strings.`,
        { status: 400, cause },
      );
    }
    const headers: Record<string, string> = { authorization, accept: "application/json" };
    if (payload !== undefined) headers["content-type"] = "application/json";
    if (settings.key !== undefined) headers["idempotency-key"] = settings.key;
    const limit = Math.max(timeout, settings.timeout ?? 0);
    for (let attempt = 0; ; attempt++) {
      try {
        return await attemptOnce<T>(method, base + suffix, headers, payload, limit, settings.signal);
      } catch (error) {
        if (!(error instanceof PushError) || !error.retryable || attempt >= retries) throw error;
      }
      // Full jitter halves the thundering herd when many senders retry against one recovering node.
      const delay = Math.min(BACKOFF_MAX, BACKOFF_BASE * 2 ** attempt) * (0.5 + Math.random() / 2);
      try {
        await sleep(delay, undefined, settings.signal === undefined ? undefined : { signal: settings.signal });
      } catch (error) {
        throw settings.signal?.reason ?? error;
      }
    }
  }

  async function attemptOnce<T>(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    limit: number,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    signal?.throwIfAborted();
    const expiry = AbortSignal.timeout(limit);
    const combined = signal === undefined ? expiry : AbortSignal.any([signal, expiry]);
    let status: number;
    let text: string;
    try {
      const response = await fetcher(url, { method, headers, body, signal: combined, redirect: "error" });
      status = response.status;
      text = await response.text();
    } catch (cause) {
      if (signal?.aborted) throw signal.reason;
      // fetch refuses to build the request (a header it cannot send): retrying cannot help.
      if (cause instanceof TypeError && /header|ByteString/i.test(cause.message)) {
        throw new PushError("INVALID_MESSAGE", `The request could not be built: ${cause.message}`, {
          status: 400,
          cause,
        });
      }
      if (expiry.aborted)
        throw new PushError("TIMEOUT", `The push router did not answer within ${limit} ms.`, { status: 0, cause });
      throw new PushError("NETWORK_ERROR", `Could not reach the push router at ${base}: ${networkReason(cause)}.`, {
        status: 0,
        cause,
      });
    }
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = undefined;
    }
    if (status >= 200 && status < 300 && isObject(answer) && answer.ok === true) return answer as T;
    const error = isObject(answer) && isObject(answer.error) ? answer.error : undefined;
    if (error !== undefined && typeof error.code === "string") {
      throw new PushError(error.code, typeof error.message === "string" ? error.message : error.code, {
        status,
        ...(typeof error.path === "string" ? { path: error.path } : {}),
      });
    }
    throw new PushError(
      "BAD_RESPONSE",
      `HTTP ${status} from ${base} is not the push router's JSON answer (a proxy in the way, or the wrong URL?).`,
      { status },
    );
  }

  return {
    send(message, settings = {}) {
      const ack = isObject(message) && isObject(message.ack) ? message.ack : undefined;
      const ackTimeout =
        ack === undefined ? undefined : (typeof ack.timeout === "number" ? ack.timeout : DEFAULT_ACK_TIMEOUT) + 1000;
      // A message with an `id` is de-duplicated by it, and every retry carries the same body: no header
      // needed (an id may hold characters a header cannot). Without one, one key serves every retry.
      const key = settings.idempotencyKey ?? (typeof message?.id === "string" ? undefined : randomUUID());
      return call("POST", "", message, { key, signal: settings.signal, timeout: ackTimeout });
    },
    batch(messages, settings = {}) {
      let longest = 0;
      for (const message of messages) {
        const ack = isObject(message) && isObject(message.ack) ? message.ack : undefined;
        if (ack !== undefined)
          longest = Math.max(longest, (typeof ack.timeout === "number" ? ack.timeout : DEFAULT_ACK_TIMEOUT) + 1000);
      }
      return call(
        "POST",
        "/batch",
        { messages },
        { key: settings.idempotencyKey ?? randomUUID(), signal: settings.signal, timeout: longest },
      );
    },
    legacy(message, settings = {}) {
      return call("POST", "/legacy", message, {
        key: settings.idempotencyKey ?? randomUUID(),
        signal: settings.signal,
      });
    },
    disconnect(request, settings = {}) {
      return call("POST", "/disconnect", request, { signal: settings.signal });
    },
    join(request, settings = {}) {
      return call("POST", "/rooms/join", request, { signal: settings.signal });
    },
    leave(request, settings = {}) {
      return call("POST", "/rooms/leave", request, { signal: settings.signal });
    },
    async presence(users, settings = {}) {
      const body = settings.namespace === undefined ? { users } : { users, namespace: settings.namespace };
      return (await call<PushPresenceAnswer>("POST", "/presence", body, { signal: settings.signal })).users;
    },
    health(settings = {}) {
      return call("GET", "/health", undefined, { signal: settings.signal });
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function networkReason(cause: unknown): string {
  // undici wraps the system error: "fetch failed" with the ECONNREFUSED (or ECONNRESET...) as its cause.
  const inner = isObject(cause) ? cause.cause : undefined;
  const code = isObject(inner) && typeof inner.code === "string" ? inner.code : undefined;
  if (code !== undefined) return code;
  return cause instanceof Error ? cause.message : String(cause);
}

function validateOptions(options: PushClientOptions): {
  base: string;
  token: string;
  timeout: number;
  retries: number;
  fetcher: typeof fetch;
} {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      'createPushClient: pass an options object, e.g. createPushClient({ url: "http://realtime:3000/push", token }).',
    );
  }
  rejectUnknownOptions("createPushClient", options, KNOWN_OPTIONS);
  const {
    url,
    token,
    timeout = DEFAULT_TIMEOUT,
    retries = DEFAULT_RETRIES,
    fetch: fetcher = globalThis.fetch,
  } = options;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError("createPushClient: `url` must be an absolute http(s) URL such as http://realtime:3000/push.");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError("createPushClient: `url` must be an http: or https: URL.");
  }
  if (parsed.username !== "" || parsed.password !== "" || parsed.search !== "" || parsed.hash !== "") {
    throw new TypeError(
      "createPushClient: `url` must carry no credentials, query or fragment; the token goes in the `token` option.",
    );
  }
  if (typeof token !== "string" || token === "" || !/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError(
      "createPushClient: `token` must be a non-empty string of visible ASCII characters (one of the router's `tokens`).",
    );
  }
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0 || timeout > 2_147_483_647) {
    throw new TypeError(
      `createPushClient: \`timeout\` must be a number of milliseconds above 0; got ${String(timeout)}.`,
    );
  }
  if (typeof retries !== "number" || !Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new TypeError(
      `createPushClient: \`retries\` must be a whole number from 0 to ${MAX_RETRIES}; got ${String(retries)}.`,
    );
  }
  if (typeof fetcher !== "function")
    throw new TypeError(
      "createPushClient: `fetch` must be a function (the global fetch is missing: Node 18 or later).",
    );
  return { base: parsed.href.replace(/\/+$/, ""), token, timeout, retries, fetcher };
}
