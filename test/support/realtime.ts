import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type ServerOptions, type Socket } from "socket.io";
import {
  sessionAuth,
  type SessionAuth,
  type SessionAuthError,
  type SessionAuthOptions,
  type SessionData,
} from "socket.io-session-auth";
import { io as ioClient, type Socket as ClientSocket, type ManagerOptions, type SocketOptions } from "socket.io-client";

export interface Realtime {
  url: string;
  io: Server;
  http: HttpServer;
  close(): Promise<void>;
}

/** A real socket.io server on 127.0.0.1; `setup` wires the middleware before it listens. */
export async function startRealtime(
  setup: (io: Server) => void,
  options: Partial<ServerOptions> = {},
): Promise<Realtime> {
  const http = createServer();
  const io = new Server(http, options);
  setup(io);
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url,
    io,
    http,
    close: async () => {
      io.disconnectSockets(true);
      await io.close();
      http.closeAllConnections();
    },
  };
}

export type ClientOptions = Partial<ManagerOptions & SocketOptions> & {
  cookie?: string;
  origin?: string;
  namespace?: string;
};

export interface ConnectFailure {
  message: string;
  data: unknown;
  /** What kind of failure socket.io-client reported ("TransportError" below socket.io). */
  type?: string;
}

/**
 * Opens a real socket.io-client and resolves once it is connected, or rejects with the `connect_error`
 * as the client saw it. Reconnection is off so a refusal is final.
 */
export function connect(url: string, options: ClientOptions = {}): Promise<ClientSocket> {
  const { cookie, origin, namespace = "/", ...rest } = options;
  const extraHeaders: Record<string, string> = {};
  if (cookie !== undefined) extraHeaders.cookie = cookie;
  if (origin !== undefined) extraHeaders.origin = origin;
  const socket = ioClient(url + namespace, {
    reconnection: false,
    forceNew: true,
    extraHeaders,
    timeout: 5000,
    ...rest,
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err: Error & { data?: unknown; type?: string }) => {
      socket.close();
      reject({ message: err.message, data: err.data, type: err.type } satisfies ConnectFailure);
    });
  });
}

/** Resolves with what a refused connection reported (fails the test if it connects). */
export async function refusal(url: string, options: ClientOptions = {}): Promise<ConnectFailure> {
  try {
    const socket = await connect(url, options);
    socket.close();
  } catch (failure) {
    return failure as ConnectFailure;
  }
  throw new Error("expected the connection to be refused, but it connected");
}

/** Emits and waits for the acknowledgement. */
export function ask<T>(socket: ClientSocket, event: string, ...args: unknown[]): Promise<T> {
  return socket.timeout(5000).emitWithAck(event, ...args) as Promise<T>;
}

/** What `serveWhoami` answers: the socket as the server sees it after authentication. */
export interface WhoAmI {
  userId: string | null;
  user: unknown;
  /** The rooms joined, but the socket's own. */
  rooms: string[];
}

/** Answers a client's `whoami` (an acknowledgement) with {@link WhoAmI}, plus whatever `extra` adds. */
export function serveWhoami(io: Server, extra: (socket: Socket) => Record<string, unknown> = () => ({})): void {
  io.on("connection", (socket) => {
    socket.on("whoami", (ack: (value: unknown) => void) =>
      ack({
        userId: socket.data.userId,
        user: socket.data.session.user,
        rooms: [...socket.rooms].filter((room) => room !== socket.id),
        ...extra(socket),
      }),
    );
  });
}

/** What a client saw when the server ended its socket: the end event's payload (if any), then the disconnect reason. */
export interface Ended {
  event: unknown;
  reason: string;
}

/** Resolves with {@link Ended} once the socket disconnects; listen before ending it. */
export function ending(socket: ClientSocket, endEvent = "session:ended"): Promise<Ended> {
  let event: unknown;
  socket.on(endEvent, (payload: unknown) => void (event = payload));
  return new Promise((resolve) => socket.once("disconnect", (reason) => resolve({ event, reason })));
}

/**
 * Serves the lifecycle's calls to a client, answered by acknowledgement: `add(item)` appends `item` to
 * `session.items` through `auth.update` (`{ ok: true, count }`), `reload()` re-reads through
 * `auth.reload` (`{ ok: true, session }`); a refusal answers `{ ok: false, code }`.
 */
export function serveLifecycle(io: Server, auth: SessionAuth): void {
  const failed = (ack: (value: unknown) => void) => (error: SessionAuthError) => ack({ ok: false, code: error.code });
  io.on("connection", (socket) => {
    socket.on("add", (item: unknown, ack: (value: unknown) => void) =>
      auth
        .update(socket, (session: SessionData) => {
          session.items = [...((session.items as unknown[] | undefined) ?? []), item];
        })
        .then((saved) => ack({ ok: true, count: (saved.items as unknown[]).length }), failed(ack)),
    );
    socket.on("reload", (ack: (value: unknown) => void) =>
      auth.reload(socket).then((session) => ack({ ok: true, session }), failed(ack)),
    );
  });
}

/**
 * Connects and resolves with the first `event` the server sends (listening from the start, so an event
 * emitted on connection is not missed); rejects with the `connect_error`. Closes the socket.
 */
export function firstEvent<T>(url: string, event: string, options: ClientOptions = {}): Promise<T> {
  const { cookie, origin, namespace = "/", ...rest } = options;
  const extraHeaders: Record<string, string> = {};
  if (cookie !== undefined) extraHeaders.cookie = cookie;
  if (origin !== undefined) extraHeaders.origin = origin;
  const socket = ioClient(url + namespace, {
    reconnection: false,
    forceNew: true,
    extraHeaders,
    timeout: 5000,
    ...rest,
  });
  return new Promise<T>((resolve, reject) => {
    socket.once(event, (value: T) => resolve(value));
    socket.once("connect_error", (err: Error) => reject(err));
  }).finally(() => socket.close());
}

/**
 * A socket.io server on 127.0.0.1 that checks handshakes with `sessionAuth(options)` (as `io.use`) and
 * answers "whoami" (serveWhoami): what the store tests connect to. `errors` holds what `onError` heard,
 * after the caller's own `onError`, if any. The caller closes the server.
 */
export async function startWhoamiServer<S extends object = SessionData>(
  options: SessionAuthOptions<S>,
): Promise<Realtime & { auth: SessionAuth<S>; errors: SessionAuthError[] }> {
  const errors: SessionAuthError[] = [];
  const auth = sessionAuth<S>({
    ...options,
    onError: (error, req) => {
      options.onError?.(error, req);
      errors.push(error);
    },
  });
  const server = await startRealtime((io) => {
    io.use(auth);
    serveWhoami(io);
  });
  return { ...server, auth, errors };
}
