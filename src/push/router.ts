import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Server } from "socket.io";
import { observed } from "./observe.js";
import { rejectUnknownOptions } from "../internal/options.js";
import { redisFlavor } from "../internal/redis.js";
import { describeValue } from "../internal/describe.js";
import { resolveRooms, type RoomNaming, type RoomOptions } from "../rooms.js";
import { PushError } from "./errors.js";
import type { PushRedisClient } from "./idempotency.js";
import { createExecutor, type ExecutorOptions, type IdempotencyConfig } from "./execute.js";
import { createHandler, type PushHandler } from "./http.js";
import type { PushAnswerFor, PushMessage } from "./types.js";
import { validateMessage, type ValidatorConfig } from "./validate.js";

export interface PushRouterOptions {
  /** Bearer tokens accepted (several, for rotation); each at least 16 visible ASCII characters. Required. */
  tokens: string | undefined | readonly (string | undefined)[];
  /** Where the endpoints live (default `"/push"`). */
  path?: string;
  /** Room prefixes, as given to `sessionAuth({ rooms })` (default `user:` and `session:`). Or pass `auth`. */
  rooms?: RoomOptions | false;
  /**
   * The `sessionAuth(...)` in use: its `.rooms` is the naming in force (not with `rooms`), and
   * `POST <path>/disconnect` of users and sessions goes through its lifecycle (`auth.endUser` /
   * `auth.endSession`): each socket gets the `endEvent` and `onSessionEnd` runs, on every node.
   */
  auth?: {
    readonly rooms: RoomNaming;
    endSession?(io: Server, sessionId: string): Promise<unknown>;
    endUser?(io: Server, userId: string): Promise<unknown>;
  };
  /** Namespaces a message may name (default `["/"]`); any other is a 404. */
  namespaces?: readonly string[];
  /** Largest body accepted, in bytes (default 1 MiB); enforced while reading. */
  maxBodyBytes?: number;
  /** Milliseconds a request body may take to arrive (default 10 000). */
  readTimeout?: number;
  /** Users, rooms, sockets and sessions per request (default 100). */
  maxTargets?: number;
  /** Messages per batch (default 100). */
  maxBatch?: number;
  /**
   * Answers remembered per `Idempotency-Key` (or message `id`) for `ttl` ms (default 5 minutes); a key
   * reused with another payload is a 422. By default in this process, at most `maxKeys` of them (default
   * 10 000, oldest dropped first). With `redis` (a connected ioredis or node-redis v4+ client; the
   * adapter's `pubClient` will do), in Redis under `prefix` (default `"push:idempotency:"`), so a retry
   * that lands on another node is recognised: one `SET NX PX` per message, each command given `timeout`
   * ms (default 1000) before the request is answered 503 `IDEMPOTENCY_UNAVAILABLE` with nothing sent.
   * `false` turns it off.
   */
  idempotency?: PushIdempotencyOptions | false;
  /**
   * Milliseconds a cluster-wide answer (`/presence`) may take, the adapter's calls included, before it is
   * a 503 `ADAPTER_UNAVAILABLE` (default 5000). Acked messages use their own `ack.timeout`.
   */
  clusterTimeout?: number;
  /** Sees unexpected failures (5xx), with the cause attached: for your logs. */
  onError?: (error: PushError) => void;
}

/** The `idempotency` option: in this process (`ttl`, `maxKeys`), or in Redis for every node (`ttl`, `redis`, `prefix`, `timeout`). */
export interface PushIdempotencyOptions {
  /** Milliseconds a key is remembered (default 300 000: 5 minutes). */
  ttl?: number;
  /** In-process only: keys remembered at most (default 10 000). Not with `redis`, whose keys expire by `ttl`. */
  maxKeys?: number;
  /** A connected ioredis (`Redis`, `Cluster`) or node-redis v4+ client: keys are kept there, for every node. */
  redis?: PushRedisClient;
  /** With `redis`: the key prefix (default `"push:idempotency:"`); each key is `<prefix><sha256 of the kind and key>`. */
  prefix?: string;
  /** With `redis`: milliseconds per command before answering 503 `IDEMPOTENCY_UNAVAILABLE` (default 1000). */
  timeout?: number;
}

export interface PushRouter {
  /** `(req, res, next?)` for node:http, Express (`app.use(push.handler)`) or any framework with that shape. */
  readonly handler: PushHandler;
  /** Serves the endpoints on this server (the socket.io server's own, typically), leaving other paths to its other listeners. */
  attach(server: HttpServer | HttpsServer): void;
  /**
   * The same as `POST <path>`, in code: resolves with the same answer, rejects with a {@link PushError}
   * with the status HTTP would have answered: 400 for a bad message (`path` names the field), 404
   * `UNKNOWN_NAMESPACE`, 422 `IDEMPOTENCY_KEY_REUSED` (its `id` was first used with another payload),
   * 409 `IDEMPOTENCY_KEY_IN_USE` and 503 `IDEMPOTENCY_UNAVAILABLE` (with `idempotency.redis`), 503
   * `SHUTTING_DOWN`.
   */
  send<M extends PushMessage>(message: M): Promise<PushAnswerFor<M>>;
  /** Refuses new work (503, health included), waits for pending acks, and forgets the idempotency keys. */
  close(): Promise<void>;
}

const KNOWN_OPTIONS = new Set([
  "tokens",
  "path",
  "rooms",
  "auth",
  "namespaces",
  "maxBodyBytes",
  "readTimeout",
  "maxTargets",
  "maxBatch",
  "idempotency",
  "clusterTimeout",
  "onError",
]);
const IDEMPOTENCY_OPTIONS = new Set(["ttl", "maxKeys", "redis", "prefix", "timeout"]);
const MIN_TOKEN_LENGTH = 16;
const DEFAULTS = {
  path: "/push",
  maxBodyBytes: 1024 * 1024,
  readTimeout: 10_000,
  maxTargets: 100,
  maxBatch: 100,
  ttl: 5 * 60_000,
  maxKeys: 10_000,
  prefix: "push:idempotency:",
  storeTimeout: 1000,
  clusterTimeout: 5000,
};
/** How long a drop in the number of nodes must hold before presence and acks believe it (see internal/nodes.ts). */
const NODE_SETTLE_MS = 10_000;

/**
 * The push router: back-end services tell the real-time server "push this to user 42" over HTTP, or the
 * process itself calls `send()`; it reaches every socket of that user on every node, through socket.io's
 * adapter. Rooms are named as `sessionAuth` names them.
 *
 * Throws a `TypeError` naming the option when the options are wrong.
 */
export function createPushRouter<S extends Pick<Server, "of">>(io: S, options: PushRouterOptions): PushRouter {
  if (typeof io !== "object" || io === null || typeof (io as { of?: unknown }).of !== "function") {
    throw new TypeError("createPushRouter: the first argument must be the socket.io Server.");
  }
  const config = validateOptions(options);
  let closing = false;
  let closed: Promise<void> | undefined;
  const executor = observed(
    createExecutor(io as unknown as Server, {
      namespaces: [...config.validator.namespaces],
      idempotency: config.idempotency,
      clusterTimeout: config.clusterTimeout,
      nodeSettle: NODE_SETTLE_MS,
      onError: config.onError,
      lifecycle: lifecycleOf(io as unknown as Server, options.auth),
    }),
  );
  const { handler, owns } = createHandler({
    path: config.path,
    tokens: config.tokens,
    maxBodyBytes: config.maxBodyBytes,
    readTimeout: config.readTimeout,
    validator: config.validator,
    executor,
    isClosing: () => closing,
    onError: config.onError,
  });
  const attached = new WeakSet<HttpServer | HttpsServer>();

  return {
    handler,
    attach(server) {
      if (typeof server !== "object" || server === null || typeof server.listeners !== "function") {
        throw new TypeError("push.attach: pass a node:http (or node:https) Server.");
      }
      if (attached.has(server)) return;
      attached.add(server);
      // As socket.io (engine.io) does for its own path: take over 'request', serve ours, hand the rest to
      // whoever listened before. socket.io attached later wraps this listener the same way.
      const previous = server.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
      server.removeAllListeners("request");
      server.on("request", (req: IncomingMessage, res: ServerResponse) => {
        if (owns(req.url) || previous.length === 0) handler(req, res);
        else for (const listener of previous) listener.call(server, req, res);
      });
    },
    async send(message) {
      if (closing) throw new PushError("SHUTTING_DOWN", "The push router is shutting down.");
      const op = validateMessage(message, config.validator);
      const outcome = await executor.message(op, undefined);
      // Answers are remembered for idempotent repeats: hand out a copy.
      return { ...outcome.body } as PushAnswerFor<typeof message>;
    },
    close() {
      closing = true;
      closed ??= executor.drain();
      return closed;
    },
  };
}

/** The lifecycle calls of a full `sessionAuth` (an object with only `rooms` has none). */
function lifecycleOf(io: Server, auth: PushRouterOptions["auth"]): ExecutorOptions["lifecycle"] {
  const { endSession, endUser } = auth ?? {};
  if (typeof endSession !== "function" || typeof endUser !== "function") return undefined;
  return { endSession: (id) => endSession.call(auth, io, id), endUser: (id) => endUser.call(auth, io, id) };
}

interface Config {
  path: string;
  tokens: readonly string[];
  maxBodyBytes: number;
  readTimeout: number;
  validator: ValidatorConfig;
  idempotency: IdempotencyConfig | false;
  clusterTimeout: number;
  onError: (error: PushError) => void;
}

function count(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(
      `createPushRouter: \`${name}\` must be a whole number from ${min} to ${max}; got ${String(value)}.`,
    );
  }
  return value;
}

function validateOptions(options: PushRouterOptions): Config {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "createPushRouter: pass an options object, e.g. createPushRouter(io, { tokens: [process.env.PUSH_TOKEN] }).",
    );
  }
  rejectUnknownOptions("createPushRouter", options, KNOWN_OPTIONS, {
    hints: { token: "tokens", maxBody: "maxBodyBytes", limit: "maxBodyBytes" },
  });
  const { tokens, path = DEFAULTS.path, rooms, auth, namespaces = ["/"], idempotency, onError = () => {} } = options;

  const list: readonly unknown[] = typeof tokens === "string" ? [tokens] : Array.isArray(tokens) ? tokens : [];
  if (list.length === 0) {
    throw new TypeError(
      "createPushRouter: `tokens` is required: the bearer token(s) callers must send, e.g. [process.env.PUSH_TOKEN].",
    );
  }
  list.forEach((token, index) => {
    if (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
      // Never echo the token itself: this message may reach a log.
      throw new TypeError(
        `createPushRouter: \`tokens[${index}]\` must be a string of at least ${MIN_TOKEN_LENGTH} visible ASCII characters (no spaces); got ${typeof token === "string" ? `${token.length} characters` : `${describeValue(token)} (is the environment variable set?)`}. Generate one with \`openssl rand -hex 32\`.`,
      );
    }
  });

  if (typeof path !== "string" || !/^\/[^?#\s]*$/.test(path) || path.endsWith("/")) {
    throw new TypeError(
      `createPushRouter: \`path\` must start with "/" and not end with one (like "/push"); got ${JSON.stringify(path)}.`,
    );
  }

  let naming: RoomNaming;
  if (auth !== undefined) {
    if (rooms !== undefined)
      throw new TypeError(
        "createPushRouter: pass `auth` or `rooms`, not both: `auth.rooms` already says how rooms are named.",
      );
    const given = (auth as { rooms?: unknown } | null)?.rooms as Partial<RoomNaming> | undefined;
    const ok = (value: unknown) => value === null || typeof value === "string";
    if (typeof given !== "object" || given === null || !ok(given.user) || !ok(given.session)) {
      throw new TypeError(
        "createPushRouter: `auth` must be the value sessionAuth(...) returned (its `.rooms` names the rooms).",
      );
    }
    naming = { user: given.user!, session: given.session! };
  } else {
    naming = resolveRooms(rooms, "createPushRouter");
  }

  if (
    !Array.isArray(namespaces) ||
    namespaces.length === 0 ||
    namespaces.some((name) => typeof name !== "string" || !name.startsWith("/"))
  ) {
    throw new TypeError(
      'createPushRouter: `namespaces` must be a non-empty array of namespace names, each starting with "/" (default ["/"]).',
    );
  }

  let remembered: Config["idempotency"];
  if (idempotency === false) remembered = false;
  else if (idempotency === undefined) remembered = { ttl: DEFAULTS.ttl, maxKeys: DEFAULTS.maxKeys };
  else if (typeof idempotency !== "object" || idempotency === null) {
    throw new TypeError(
      "createPushRouter: `idempotency` must be false or { ttl?: milliseconds, maxKeys?: number } or { redis: client, ttl?, prefix?, timeout? }.",
    );
  } else {
    rejectUnknownOptions("createPushRouter", idempotency, IDEMPOTENCY_OPTIONS, { path: "idempotency." });
    const ttl = count("idempotency.ttl", idempotency.ttl, DEFAULTS.ttl, 1, 24 * 3_600_000);
    if (idempotency.redis === undefined) {
      if (idempotency.prefix !== undefined || idempotency.timeout !== undefined) {
        throw new TypeError(
          "createPushRouter: `idempotency.prefix` and `idempotency.timeout` apply to the Redis store only: pass `idempotency.redis` too.",
        );
      }
      remembered = { ttl, maxKeys: count("idempotency.maxKeys", idempotency.maxKeys, DEFAULTS.maxKeys, 1, 10_000_000) };
    } else {
      if (idempotency.maxKeys !== undefined) {
        throw new TypeError(
          "createPushRouter: `idempotency.maxKeys` bounds the in-process memory; with `idempotency.redis` keys expire after `ttl` instead. Leave it out.",
        );
      }
      const client = idempotency.redis as unknown as { get?: unknown; set?: unknown; del?: unknown } | null;
      const kind = redisFlavor(client) !== "promise";
      if (
        typeof client !== "object" ||
        client === null ||
        !kind ||
        typeof client.get !== "function" ||
        typeof client.set !== "function" ||
        typeof client.del !== "function"
      ) {
        throw new TypeError(
          "createPushRouter: `idempotency.redis` must be a connected Redis client: ioredis `new Redis()` / `new Cluster()`, or node-redis v4+ `createClient()` (the adapter's `pubClient` will do).",
        );
      }
      const { prefix = DEFAULTS.prefix } = idempotency;
      if (typeof prefix !== "string" || prefix === "")
        throw new TypeError(
          'createPushRouter: `idempotency.prefix` must be a non-empty string (default "push:idempotency:").',
        );
      remembered = {
        ttl,
        redis: idempotency.redis,
        prefix,
        timeout: count("idempotency.timeout", idempotency.timeout, DEFAULTS.storeTimeout, 1, 60_000),
      };
    }
  }
  if (typeof onError !== "function")
    throw new TypeError("createPushRouter: `onError` must be a function (error) => void.");

  return {
    path,
    tokens: list as string[],
    maxBodyBytes: count("maxBodyBytes", options.maxBodyBytes, DEFAULTS.maxBodyBytes, 64, 1024 * 1024 * 1024),
    readTimeout: count("readTimeout", options.readTimeout, DEFAULTS.readTimeout, 1, 2_147_483_647),
    validator: {
      naming,
      namespaces: new Set(namespaces),
      maxTargets: count("maxTargets", options.maxTargets, DEFAULTS.maxTargets, 1, 100_000),
      maxBatch: count("maxBatch", options.maxBatch, DEFAULTS.maxBatch, 1, 10_000),
    },
    idempotency: remembered,
    clusterTimeout: count("clusterTimeout", options.clusterTimeout, DEFAULTS.clusterTimeout, 1, 120_000),
    // A throwing logger must not turn an answer into a crash.
    onError: (error) => {
      try {
        onError(error);
      } catch {
        // ignored on purpose
      }
    },
  };
}
