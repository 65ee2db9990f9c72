import { fileURLToPath } from "node:url";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import session, { type Store } from "express-session";

/** What the demo keeps in a session. The library's default `identify` finds `userId`. */
export interface DemoSession {
  userId?: string;
  /** When this session logged in (ms since the epoch): proof that the socket sees the session itself. */
  loggedInAt?: number;
}

export interface WebAppOptions {
  store: Store;
  secret: string;
  /**
   * Called after a session ends (logout, or replaced by a new login) with its id, so that the sockets
   * opened with it can be dropped: they were authorized once, at their handshake, and would live on.
   */
  onSessionEnded(sessionId: string): void;
}

// Names become room names (`user:<name>`) and appear on every page: keep them short and printable.
const USER_NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,23}$/u;
const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));

// The page loads only its own files (and the socket.io client, served by socket.io on this origin);
// chat text is rendered as text, so even a slip in the page could not run injected script.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The HTTP side of the demo, the part a real app already has: express-session on its MemoryStore, a
 * login form and a logout. It knows nothing of socket.io.
 */
export function createWebApp({ store, secret, onSessionEnded }: WebAppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use((_req, res, next) => {
    res.set({
      "Content-Security-Policy": CONTENT_SECURITY_POLICY,
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    });
    next();
  });
  app.use(
    session({
      store,
      secret,
      resave: false,
      saveUninitialized: false, // no cookie until someone logs in: the page shows NO_SESSION_COOKIE before that
      cookie: { httpOnly: true, sameSite: "lax", maxAge: 8 * 3_600_000 },
    }),
  );
  app.use(express.static(PUBLIC_DIR, { index: "index.html", maxAge: 0 }));

  app.get("/api/me", (req, res) => {
    const data = fields(req);
    res.set("Cache-Control", "no-store").json({ user: data.userId ?? null, loggedInAt: data.loggedInAt ?? null });
  });

  app.post("/login", sameOrigin, express.urlencoded({ extended: false, limit: "2kb" }), (req, res, next) => {
    const raw: unknown = (req.body as Record<string, unknown> | undefined)?.name;
    const name = typeof raw === "string" ? raw.normalize("NFC").trim() : "";
    if (!USER_NAME.test(name)) {
      reply(req, res, 400, { ok: false, error: "Pick a name of 1 to 24 letters, digits, spaces, dots, dashes or underscores." });
      return;
    }
    const previous = fields(req).userId === undefined ? undefined : req.sessionID;
    // A fresh session id at login, so an id planted before it (session fixation) is worth nothing after.
    req.session.regenerate((regenerateError: unknown) => {
      if (regenerateError) return next(regenerateError);
      Object.assign(req.session, { userId: name, loggedInAt: Date.now() } satisfies DemoSession);
      req.session.save((saveError: unknown) => {
        if (saveError) return next(saveError);
        if (previous !== undefined) onSessionEnded(previous);
        reply(req, res, 200, { ok: true, user: name });
      });
    });
  });

  app.post("/logout", sameOrigin, (req, res, next) => {
    const sessionId = req.sessionID;
    // The cookie is left in the browser on purpose: its next handshake is then refused with
    // SESSION_NOT_FOUND, which is what the page shows. (Clearing it would show NO_SESSION_COOKIE.)
    req.session.destroy((error: unknown) => {
      if (error) return next(error);
      onSessionEnded(sessionId);
      reply(req, res, 200, { ok: true, user: null });
    });
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (error as { status?: unknown })?.status === "number" ? (error as { status: number }).status : 500;
    res.status(status).type("text/plain").send(status === 500 ? "Something went wrong." : "Bad request.");
  });
  return app;
}

function fields(req: Request): DemoSession {
  return req.session as DemoSession;
}

/** The page's script asks for JSON; a plain form submission gets a redirect back to the page. */
function reply(req: Request, res: Response, status: number, body: { ok: boolean; user?: string | null; error?: string }): void {
  if (req.accepts(["html", "json"]) === "json") {
    res.status(status).json(body);
  } else if (body.ok) {
    res.redirect(303, "/");
  } else {
    res.status(status).type("text/plain").send(body.error ?? "Bad request.");
  }
}

/**
 * Refuses logins and logouts posted by pages of other origins, as the library's default Origin policy
 * does for sockets. (SameSite=Lax already keeps the cookie off such posts; this refuses them outright.)
 */
function sameOrigin(req: Request, res: Response, next: NextFunction): void {
  const origin = req.headers.origin;
  if (origin === undefined) return next();
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host !== undefined && host === req.headers.host) return next();
  res.status(403).type("text/plain").send("Cross-origin request refused.");
}
