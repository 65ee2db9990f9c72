// The libraries docs/migrating.md migrates away from, declared as their READMEs and DefinitelyTyped
// describe them, so that the "before" snippets (migrate-*-before.ts) typecheck. The packages are not
// installed here: those files are type-checked, never run.

declare module "express-socket.io-session" {
  import type { RequestHandler } from "express";
  import type { Socket } from "socket.io";

  interface SharedSessionOptions {
    autoSave?: boolean;
    saveUninitialized?: boolean;
  }
  type SocketMiddleware = (socket: Socket, next: (err?: Error) => void) => void;
  function sharedsession(session: RequestHandler, options?: SharedSessionOptions): SocketMiddleware;
  function sharedsession(
    session: RequestHandler,
    cookieParser: RequestHandler,
    options?: SharedSessionOptions,
  ): SocketMiddleware;
  export default sharedsession;
}

declare module "passport.socketio" {
  import type { IncomingMessage } from "node:http";
  import type { RequestHandler } from "express";
  import type { Store } from "express-session";
  import type { Server, Socket } from "socket.io";

  interface AuthorizeOptions {
    cookieParser: (secret?: string | string[]) => RequestHandler;
    key?: string;
    secret?: string;
    store: Store;
    passport?: unknown;
    success?: (data: IncomingMessage, accept: (err?: Error) => void) => void;
    fail?: (data: IncomingMessage, message: string, error: boolean, accept: (err?: Error) => void) => void;
  }
  export function authorize(options: AuthorizeOptions): (socket: Socket, next: (err?: Error) => void) => void;
  export function filterSocketsByUser(
    io: Server,
    filter: (user: { logged_in: boolean; [key: string]: unknown }) => boolean,
  ): Socket[];
}

declare module "cookie-parser" {
  import type { RequestHandler } from "express";

  function cookieParser(secret?: string | string[]): RequestHandler;
  export default cookieParser;
}
