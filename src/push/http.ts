import { timingSafeEqual } from "node:crypto";
import { sha256 } from "../internal/hash.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isPushError, PushError } from "./errors.js";
import type { Executor, Outcome } from "./execute.js";
import { deeperThan, isIdentity, isJson, MAX_JSON_DEPTH, parseJson } from "./body.js";
import {
  MAX_ID_LENGTH,
  validateBatch,
  validateDisconnect,
  validateLegacy,
  validateMessage,
  validatePresence,
  validateRooms,
  type ValidatorConfig,
} from "./validate.js";

/** `(req, res, next?)`: plain node:http, Express, Connect and anything else with that shape. */
export type PushHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

export interface HttpConfig {
  readonly path: string;
  readonly tokens: readonly string[];
  readonly maxBodyBytes: number;
  readonly readTimeout: number;
  readonly validator: ValidatorConfig;
  readonly executor: Executor;
  readonly isClosing: () => boolean;
  readonly onError: (error: PushError) => void;
}

/** Query parameters that look like a credential: refused so a token never lands in an access log. */
const TOKEN_PARAMS = new Set([
  "token",
  "access_token",
  "accesstoken",
  "auth",
  "authorization",
  "bearer",
  "api_key",
  "apikey",
  "key",
]);
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

type Run = (body: unknown, key: string | undefined) => Outcome | Promise<Outcome>;
interface Route {
  readonly method: "GET" | "POST";
  /** Health has neither token nor body. */
  readonly run: Run | null;
}

export function createHandler(config: HttpConfig): { handler: PushHandler; owns(url: string | undefined): boolean } {
  const { path, maxBodyBytes, readTimeout, validator, executor, isClosing, onError } = config;
  // Both sides are hashed to 32 bytes, so timingSafeEqual compares equal lengths and the time taken says
  // nothing about the length or the content of any configured token.
  const digests = config.tokens.map(sha256);

  const routes = new Map<string, Route>([
    ["", { method: "POST", run: (body, key) => executor.message(validateMessage(body, validator), key) }],
    ["/batch", { method: "POST", run: (body, key) => executor.batch(validateBatch(body, validator), key) }],
    ["/legacy", { method: "POST", run: (body, key) => executor.legacy(validateLegacy(body, validator), key) }],
    ["/disconnect", { method: "POST", run: (body) => executor.disconnect(validateDisconnect(body, validator)) }],
    ["/rooms/join", { method: "POST", run: (body) => executor.join(validateRooms(body, validator)) }],
    ["/rooms/leave", { method: "POST", run: (body) => executor.leave(validateRooms(body, validator)) }],
    ["/presence", { method: "POST", run: (body) => executor.presence(validatePresence(body, validator)) }],
    ["/health", { method: "GET", run: null }],
  ]);

  function owns(url: string | undefined): boolean {
    if (url === undefined) return false;
    const end = url.indexOf("?");
    const pathname = end < 0 ? url : url.slice(0, end);
    return pathname === path || pathname.startsWith(`${path}/`);
  }

  function authorized(header: string | undefined): boolean {
    if (typeof header !== "string") return false;
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    if (match === null) return false;
    const given = sha256(match[1]!);
    let ok = false;
    // No early exit: every configured token is compared, whichever matches.
    for (const digest of digests) ok = timingSafeEqual(digest, given) || ok;
    return ok;
  }

  const handler: PushHandler = (req, res, next) => {
    // A stray 'error' on either stream (a client that vanished) must never become an uncaught exception.
    req.on("error", ignore);
    res.on("error", ignore);
    try {
      // Express mounts (`app.use("/push", handler)`) rewrite req.url; originalUrl keeps what was asked.
      const url = (req as { originalUrl?: unknown }).originalUrl;
      const target = typeof url === "string" ? url : (req.url ?? "/");
      if (!owns(target)) {
        if (next !== undefined) next();
        else refuse(req, res, new PushError("NOT_FOUND", `No push endpoint here; the router serves ${path}.`));
        return;
      }
      const query = target.indexOf("?");
      const pathname = query < 0 ? target : target.slice(0, query);
      const route = routes.get(pathname.slice(path.length));
      if (route === undefined) {
        refuse(req, res, new PushError("NOT_FOUND", `No push endpoint at ${pathname.slice(0, 200)}.`));
        return;
      }
      const method = req.method ?? "";
      if (method !== route.method && !(route.method === "GET" && method === "HEAD")) {
        refuse(req, res, new PushError("METHOD_NOT_ALLOWED", `Use ${route.method} here.`), {
          allow: route.method === "GET" ? "GET, HEAD" : "POST",
        });
        return;
      }
      if (query >= 0 && hasTokenParam(target.slice(query + 1))) {
        refuse(
          req,
          res,
          new PushError(
            "TOKEN_IN_QUERY",
            "Tokens in the query string end up in access logs: send `Authorization: Bearer <token>` instead.",
          ),
        );
        return;
      }
      if (route.run === null) {
        if (isClosing()) refuse(req, res, shuttingDown());
        else reply(req, res, 200, { ok: true });
        return;
      }
      if (isClosing()) {
        refuse(req, res, shuttingDown());
        return;
      }
      if (!authorized(req.headers.authorization)) {
        refuse(req, res, new PushError("UNAUTHORIZED", "A valid bearer token is required."), {
          "www-authenticate": 'Bearer realm="push"',
        });
        return;
      }
      const key = idempotencyKey(req.headers["idempotency-key"]);
      if (isPushError(key)) {
        refuse(req, res, key);
        return;
      }
      const run = route.run;
      withBody(req, (error, value) => {
        if (error !== null) {
          refuse(
            req,
            res,
            error,
            error.code === "UNSUPPORTED_CONTENT_ENCODING" ? { "accept-encoding": "identity" } : {},
          );
          return;
        }
        // close() may have begun while the body was still arriving: nothing goes out after it.
        if (isClosing()) {
          refuse(req, res, shuttingDown());
          return;
        }
        let outcome: Outcome | Promise<Outcome>;
        try {
          outcome = run(value, key);
        } catch (failure) {
          refuse(req, res, failure);
          return;
        }
        if (outcome instanceof Promise) {
          outcome.then(
            (result) => reply(req, res, result.status, result.body),
            (failure: unknown) => refuse(req, res, failure),
          );
        } else reply(req, res, outcome.status, outcome.body);
      });
    } catch (error) {
      refuse(req, res, error);
    }
  };

  /** The parsed JSON body: read here with the limits, or taken from a body parser that ran before us. */
  function withBody(req: IncomingMessage, done: (error: PushError | null, value?: unknown) => void): void {
    if (!isJson(req.headers["content-type"])) {
      done(new PushError("UNSUPPORTED_MEDIA_TYPE", "Send the body as `Content-Type: application/json` (UTF-8)."));
      return;
    }
    if (req.readableEnded) {
      // A framework's body parser (express.json()) consumed the stream: its own size limit applied.
      const parsed = (req as { body?: unknown }).body;
      if (parsed === undefined)
        done(new PushError("BAD_JSON", "The body was consumed before the push router could read it."));
      else if (typeof parsed === "string" || Buffer.isBuffer(parsed)) parseInto(Buffer.from(parsed), done);
      else if (deeperThan(parsed, MAX_JSON_DEPTH))
        done(new PushError("BAD_JSON", `The JSON is nested deeper than ${MAX_JSON_DEPTH} levels.`));
      else done(null, parsed);
      return;
    }
    if (!isIdentity(req.headers["content-encoding"])) {
      // A compressed body read as plain JSON fails as "not UTF-8", and a plain body labelled gzip would be
      // taken at face value. We decode none, so say so: RFC 9110 §15.5.16, a 415 with Accept-Encoding.
      done(
        new PushError(
          "UNSUPPORTED_CONTENT_ENCODING",
          "The body must not be compressed: send it without Content-Encoding (or `identity`).",
        ),
      );
      return;
    }
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > maxBodyBytes) {
      done(tooLarge());
      return;
    }
    readBody(req, (error, bytes) => (error !== null ? done(error) : parseInto(bytes!, done)));
  }

  function parseInto(bytes: Buffer, done: (error: PushError | null, value?: unknown) => void): void {
    let value: unknown;
    try {
      value = parseJson(bytes);
    } catch (error) {
      done(error as PushError);
      return;
    }
    done(null, value);
  }

  function readBody(req: IncomingMessage, done: (error: PushError | null, bytes?: Buffer) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error: PushError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      // With no 'data' listener left the stream keeps flowing into the void: the rest is discarded, and
      // the refusal closes the connection once answered.
      if (error === null) done(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      else done(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBodyBytes) settle(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = (): void => settle(null);
    const onClose = (): void => settle(new PushError("BAD_JSON", "The request was aborted before its body ended."));
    // A slow or endless body holds memory and a socket: cut it, whatever the client promises.
    const timer = setTimeout(
      () => settle(new PushError("REQUEST_TIMEOUT", `The body did not arrive within ${readTimeout} ms.`)),
      readTimeout,
    );
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
  }

  function tooLarge(): PushError {
    return new PushError("PAYLOAD_TOO_LARGE", `The body is over the limit of ${maxBodyBytes} bytes.`);
  }

  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    error: unknown,
    headers: Record<string, string> = {},
  ): void {
    let refusal: PushError;
    if (isPushError(error)) {
      refusal = error;
      if (refusal.status >= 500) onError(refusal);
    } else {
      refusal = new PushError("INTERNAL_ERROR", "The push router failed unexpectedly.", { cause: error });
      onError(refusal);
    }
    reply(req, res, refusal.status === 0 ? 500 : refusal.status, refusal.toJSON(), headers);
  }

  return { handler, owns };
}

function reply(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  const head: Record<string, string | number> = {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers,
  };
  // A body we did not read (refused early, cut short) would otherwise be drained on a kept-alive
  // connection: close it instead.
  if (!req.readableEnded && bodyExpected(req)) head.connection = "close";
  if (status === 503) head["retry-after"] = "1";
  res.writeHead(status, head);
  res.end(text);
}

function bodyExpected(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function shuttingDown(): PushError {
  return new PushError("SHUTTING_DOWN", "The push router is shutting down.");
}

function ignore(): void {}

function hasTokenParam(query: string): boolean {
  for (const name of new URLSearchParams(query).keys()) {
    if (TOKEN_PARAMS.has(name.toLowerCase())) return true;
  }
  return false;
}

function idempotencyKey(header: string | string[] | undefined): string | undefined | PushError {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header.join(", ") : header;
  if (value.length === 0 || value.length > MAX_ID_LENGTH || !VISIBLE_ASCII.test(value)) {
    return new PushError(
      "INVALID_MESSAGE",
      `Idempotency-Key: must be 1 to ${MAX_ID_LENGTH} visible ASCII characters.`,
      { path: "headers.idempotency-key" },
    );
  }
  return value;
}
