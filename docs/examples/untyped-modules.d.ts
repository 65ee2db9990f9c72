// Minimal declarations for the packages the docs' web-app examples use that ship no types (and whose
// @types packages are not installed here): just what the examples call.

declare module "cookie-session" {
  import type { RequestHandler } from "express";

  interface CookieSessionOptions {
    name?: string;
    keys: readonly string[];
    maxAge?: number;
    sameSite?: "lax" | "strict" | "none";
    httpOnly?: boolean;
  }
  function cookieSession(options: CookieSessionOptions): RequestHandler;
  export default cookieSession;
}

declare module "koa" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  interface Context {
    path: string;
    method: string;
    query: Record<string, string | string[] | undefined>;
    session: Record<string, unknown> | null;
    cookies: { get(name: string, options?: { signed?: boolean }): string | undefined };
    status: number;
    body: unknown;
  }
  class Koa {
    keys: readonly string[];
    use(middleware: (ctx: Context, next: () => Promise<void>) => unknown): this;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
  export default Koa;
}
