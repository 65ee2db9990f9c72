import type { IncomingMessage } from "node:http";
import type { ExtendedError, Namespace, Server, Socket } from "socket.io";
import { copyReadSession } from "./copy.js";
import { SessionAuthError, type SessionAuthErrorCode } from "./errors.js";
import { isPromiseLike } from "./internal/deadline.js";
import { answerIfAlive, watchAbort } from "./internal/aborted.js";
import { describeFailure } from "./internal/describe.js";
import { serverSetup, transportOf, type EngineOptions } from "./internal/socketio.js";
import { ownString } from "./internal/own-string.js";
import { slotsOf } from "./internal/socket-slot.js";
import { log } from "./log.js";
import { handshakeTraced, traceHandshake, type HandshakeMessage } from "./observe.js";
import { emitWarning, type WarningName } from "./internal/warn.js";
import type { Lifecycle } from "./lifecycle/index.js";
import type { Accepted, HandshakeDone, Pipeline } from "./pipeline-types.js";

/** The socket.io side of `sessionAuth`: the middleware, `allowRequest`, `attach`, and recovered sockets. */
export interface Glue {
  middleware(socket: Socket, next: (err?: ExtendedError) => void): void;
  allowRequest(req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void;
  attach<T extends Server>(io: T): T;
}

// How long after `allowRequest` the namespaces of that connection may reuse its result. Clients connect
// their namespaces right after the handshake; a namespace joined later is checked afresh.
const PREAUTHORIZED_REUSE_MS = 10_000;

type ClientError = ExtendedError & { data: { code: SessionAuthErrorCode; retryable: boolean } };

export function createGlue<S extends object>(pipeline: Pipeline<S>, lifecycle: Lifecycle<S>): Glue {
  const { rooms } = pipeline.config;
  // Results of `allowRequest`, for the middleware of the same connection (all its namespaces) to reuse.
  const preauthorized = new WeakMap<IncomingMessage, { accepted: Accepted<S>; at: number }>();
  // What this sessionAuth admitted a socket with, until socket.io connects it (middlewares after ours may
  // still refuse it), then `true`; undefined for a socket it did not admit. One slot, no WeakMap entry
  // per socket (issue 22).
  const ADMISSION: unique symbol = Symbol("socket.io-session-auth admission");
  type Slots = { [ADMISSION]?: Accepted<S> | true };
  const watchedNamespaces = new WeakSet<Namespace>();
  const watchedServers = new WeakSet<Server>();
  // Each warning once per `sessionAuth`, however many servers or namespaces it serves.
  const warned = new Set<string>();

  // `owned`: the handshake's own copy (`result.session`) is this socket's; allowRequest's result, reused by
  // each namespace of its connection, is copied for each.
  function admit(socket: Socket, accepted: Accepted<S>, owned: boolean): void {
    // Set now: middlewares after ours and the app's "connection" handlers read them.
    socket.data.session = owned ? accepted.result.session : copyReadSession(accepted.read);
    socket.data.userId = accepted.read.userId;
    const joined = roomsOf(accepted);
    // An adapter whose join() rejects must not become an unhandled rejection (the in-memory adapter's is
    // synchronous: no promise to make for it).
    if (joined.length > 0) {
      const joining: unknown = socket.join(joined as string[]);
      if (isPromiseLike(joining)) Promise.resolve(joining).catch(ignore);
    }
    // The lifecycle follows connected sockets only: one refused later, or dropped before connecting,
    // fires no "disconnect" and would stay tracked forever.
    if (socket.connected) {
      slotsOf<Slots>(socket)[ADMISSION] = true;
      lifecycle.track(socket, accepted.result.sessionId, accepted.key, accepted.read);
    } else slotsOf<Slots>(socket)[ADMISSION] = accepted;
  }

  // The room names of a read, made once per read (every handshake sharing it has the same session).
  function roomsOf(accepted: Accepted<S>): readonly string[] {
    const read = accepted.read;
    if (read.rooms !== undefined) return read.rooms;
    // Flat strings of their own: the adapter keeps each room name as long as a socket is in the room, and
    // a name built from the handshake's key would keep the key's 64-digit parent alive with it.
    const names: string[] = [];
    if (rooms.user !== null && read.userId !== null) names.push(ownString(rooms.user + read.userId));
    if (rooms.session !== null) names.push(ownString(rooms.session + accepted.key));
    return (read.rooms = names);
  }

  function watchServer(io: Server): void {
    if (watchedServers.has(io)) return;
    watchedServers.add(io);
    lifecycle.listen(io);
    warnAboutSetup(io, pipeline.config.origins, allowRequest, warned);
  }

  function watchNamespace(nsp: Namespace): void {
    if (watchedNamespaces.has(nsp)) return;
    watchedNamespaces.add(nsp);
    watchServer(nsp.server);
    // socket.io lets a recovered socket (connectionStateRecovery) skip middlewares: a session destroyed
    // during the blip would come back unchecked. Check those again with their new handshake's cookie.
    nsp.prependListener("connection", (socket: Socket) => {
      const slots = slotsOf<Slots>(socket);
      const accepted = slots[ADMISSION];
      if (accepted !== undefined && accepted !== true) {
        slots[ADMISSION] = true;
        lifecycle.track(socket, accepted.result.sessionId, accepted.key, accepted.read);
      } else if (accepted === undefined && socket.recovered) {
        recheck(socket);
      }
    });
  }

  /**
   * A recovered socket comes back with the rooms and `socket.data` of its previous connection: another
   * user's cookie (or none) must not inherit them (a refusal to return); the same user's socket leaves
   * its restored session rooms, which admit() joins afresh.
   */
  function resume(socket: Socket, accepted: Accepted<S>): SessionAuthError | undefined {
    if ((socket.data?.userId ?? null) !== accepted.read.userId) {
      return new SessionAuthError("UNAUTHENTICATED", "A recovered socket came back with another user's session.");
    }
    if (rooms.session !== null)
      for (const room of socket.rooms) if (room.startsWith(rooms.session)) void socket.leave(room);
    return undefined;
  }

  function recheck(socket: Socket): void {
    let verdict: boolean | undefined;
    const held: Array<() => void> = [];
    // Hold the client's events until the session is confirmed.
    socket.use((_packet, next) => {
      if (verdict === true) next();
      else if (verdict === undefined) held.push(() => next());
    });
    const refuse = (reason: SessionAuthError) => {
      verdict = false;
      held.length = 0;
      // A store outage is no end of the session: a plain disconnect, and the client's next try is a new
      // handshake. Anything else ends it the lifecycle's way: the end event, a disconnect, onSessionEnd.
      if (reason.retryable) socket.disconnect();
      else lifecycle.end(socket, reason);
    };
    checkTraced("recovery", socket.request, socket, (error, accepted) => {
      if (error !== undefined) return refuse(error);
      if (!socket.connected) return;
      const mixed = resume(socket, accepted!);
      if (mixed !== undefined) return refuse(mixed);
      try {
        admit(socket, accepted!, true);
      } catch {
        return refuse(new SessionAuthError("FORBIDDEN", "Unexpected failure while admitting a recovered socket."));
      }
      verdict = true;
      for (const release of held.splice(0)) release();
    });
  }

  function middleware(socket: Socket, next: (err?: ExtendedError) => void): void {
    watchNamespace(socket.nsp);
    // Wired twice (attach and io.use): the first run decided.
    if (slotsOf<Slots>(socket)[ADMISSION] !== undefined) return next();
    const ready = preauthorized.get(socket.request);
    // Reuse allowRequest's result, unless the session (or its user) was ended since its store read.
    if (ready !== undefined && Date.now() - ready.at < PREAUTHORIZED_REUSE_MS) {
      const { accepted } = ready;
      if (lifecycle.endedSince(accepted.key, accepted.read.userId, accepted.read.readAt) === undefined) {
        admitThen(socket, accepted, next, false);
        return;
      }
      preauthorized.delete(socket.request);
    }
    checkTraced("middleware", socket.request, socket, (error, accepted) =>
      error === undefined ? admitThen(socket, accepted!, next, true) : next(clientError(error)),
    );
  }

  function admitThen(socket: Socket, accepted: Accepted<S>, next: (err?: ExtendedError) => void, owned: boolean): void {
    // connectionStateRecovery with skipMiddlewares: false runs us for recovered sockets too.
    const mixed = socket.recovered ? resume(socket, accepted) : undefined;
    if (mixed !== undefined) return next(clientError(mixed));
    try {
      admit(socket, accepted, owned);
    } catch {
      // Never a hung handshake: a failure here refuses, to stay safe.
      next(clientError(new SessionAuthError("FORBIDDEN", "Unexpected failure while admitting the socket.")));
      return;
    }
    next();
  }

  const allowRequest: Glue["allowRequest"] = (req, callback) => {
    // A client gone during the lookup gets no answer: engine.io's write to its response could kill the process.
    const gone = watchAbort(req);
    const failed = (cause: unknown) => log("allowRequest: the engine failed to answer: %s", describeFailure(cause));
    checkTraced("allowRequest", req, undefined, (error, accepted) => {
      if (error !== undefined) return void answerIfAlive(gone, () => callback(error.code, false), failed);
      if (gone()) return log("allowRequest: the client went away during the check; not answered");
      preauthorized.set(req, { accepted: accepted!, at: Date.now() });
      answerIfAlive(gone, () => callback(null, true), failed);
    });
  };

  // The handshake check under the `handshake` tracing channel; with nobody listening, just the check,
  // in callbacks (no promise of ours on the handshake path, issue 22).
  function checkTraced(
    via: HandshakeMessage["via"],
    req: IncomingMessage,
    socket: Socket | undefined,
    done: HandshakeDone<S>,
  ): void {
    if (!handshakeTraced()) return pipeline.authenticateThen(req, socket?.handshake, done);
    let shared = false;
    traceHandshake(
      () => ({
        via,
        transport: transportOf(req),
        namespace: socket?.nsp.name,
        store: pipeline.config.store.name,
        signing: pipeline.config.signing,
        sharedRead: false,
      }),
      (context) =>
        new Promise<Accepted<S>>((resolve, reject) =>
          pipeline.authenticateThen(req, socket?.handshake, (error, accepted, wasShared) => {
            shared = wasShared;
            if (context !== undefined) context.sharedRead = wasShared;
            if (error === undefined) resolve(accepted!);
            else reject(error);
          }),
        ),
    ).then(
      (accepted) => done(undefined, accepted, shared),
      (error: SessionAuthError) => done(error, undefined, shared),
    );
  }

  function attach<T extends Server>(io: T): T {
    if (typeof io !== "object" || io === null || typeof io.of !== "function" || typeof io.use !== "function") {
      throw new TypeError("attach: pass the socket.io Server, e.g. auth.attach(io).");
    }
    const main = io.of("/");
    main.use(middleware);
    watchNamespace(main);
    io.on("new_namespace", (nsp: Namespace) => {
      nsp.use(middleware);
      watchNamespace(nsp);
    });
    return io;
  }

  return { middleware, allowRequest, attach };
}

/**
 * Misconfigurations visible at start, said once per server rather than left to surface as a
 * per-handshake mystery (DESIGN "Diagnostics").
 */
function warnAboutSetup(io: Server, origins: unknown, allowRequest: unknown, warned: Set<string>): void {
  const warn = (message: string, name: WarningName): void => {
    if (warned.has(name)) return;
    warned.add(name);
    emitWarning(name, message);
  };
  const { recovery, engine: engineOpts } = serverSetup(io);
  if (recovery !== undefined && recovery.skipMiddlewares !== false && engineOpts?.allowRequest !== allowRequest) {
    warn(
      'socket.io-session-auth: connectionStateRecovery skips middlewares for recovered sockets, so your io.on("connection") ' +
        "handlers run for a recovered socket (and what they emit reaches it) before its session is checked again, even if it was " +
        "revoked meanwhile. Wire `allowRequest: auth.allowRequest` in the Server options (refused at the engine), or set " +
        "`connectionStateRecovery: { skipMiddlewares: false }`.",
      "RECOVERY",
    );
  }
  if (Array.isArray(origins) && origins.length > 0 && engineOpts !== undefined) {
    const transports = engineOpts.transports ?? ["polling", "websocket"];
    const blocked = transports.includes("polling") ? originsCorsBlocks(origins as string[], engineOpts.cors) : [];
    if (blocked.length > 0) {
      warn(
        `socket.io-session-auth: \`origins\` lists ${blocked.map((o) => JSON.stringify(o)).join(", ")}, but socket.io's \`cors\` option ` +
          'does not let those pages poll with cookies, so their browsers fail with only "xhr poll error". Give the Server ' +
          "`cors: { origin: [...the same origins], credentials: true }`.",
        "CORS",
      );
    }
  }
}

/** The listed origins that socket.io's `cors` option would not let poll with credentials. */
function originsCorsBlocks(origins: readonly string[], cors: EngineOptions["cors"]): string[] {
  if (typeof cors !== "object" || cors === null) return [...origins];
  const allowed = cors.origin;
  // A function decides per request: nothing to check at start.
  if (typeof allowed === "function") return [];
  if (cors.credentials !== true) return [...origins];
  const matches = (origin: string, rule: unknown): boolean =>
    rule === true || rule === "*"
      ? false /* "*" never works with credentials */
      : rule instanceof RegExp
        ? rule.test(origin)
        : typeof rule === "string" && new URL(rule).origin === new URL(origin).origin;
  const rules = Array.isArray(allowed) ? allowed : [allowed];
  // cors `origin: true` reflects the request's Origin: it allows every page, credentials included.
  if (allowed === true) return [];
  return origins.filter((origin) => !rules.some((rule) => safeMatch(origin, rule, matches)));
}

function safeMatch(origin: string, rule: unknown, matches: (origin: string, rule: unknown) => boolean): boolean {
  try {
    return matches(origin, rule);
  } catch {
    return false;
  }
}

function ignore(): void {}

// What a refused socket.io client receives: the code and whether to retry, nothing else. One frozen
// instance per code and retryability: no stack to capture on a path an attacker can drive.
const CLIENT_ERRORS = new Map<string, ClientError>();
function clientError(error: SessionAuthError): ClientError {
  const { code, retryable } = error;
  const cacheKey = `${code}:${retryable}`;
  let sent = CLIENT_ERRORS.get(cacheKey);
  if (sent === undefined) {
    sent = Object.assign(new Error(code), { data: Object.freeze({ code, retryable }) });
    sent.stack = `Error: ${code}`;
    CLIENT_ERRORS.set(cacheKey, Object.freeze(sent));
  }
  return sent;
}
