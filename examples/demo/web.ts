import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import session, { type Store } from "express-session";
import type { PushRouter, PushTo } from "socket.io-session-auth/push";
import {
  DEMO_ROOMS,
  isDemoRoom,
  NOTICE_EVENT,
  roomOf,
  type DemoRoom,
  type Notice,
  type NoticeTarget,
  type PushReply,
} from "./protocol.js";

/** What the demo keeps in a session. The library's default `identify` finds `userId`. */
export interface DemoSession {
  userId?: string;
  /** When this session logged in (ms since the epoch): proof that the socket sees the session itself. */
  loggedInAt?: number;
  /** The rooms this session joined; every socket opened with it joins them too (live.ts). */
  rooms?: DemoRoom[];
}

/**
 * What the web side needs of the push router. In this one-process demo it is the router itself
 * (`push.send()`); when the web app and the socket.io server are two processes, it is
 * `createPushClient({ url, token })`, whose `send` has the same shape, with the token in the web app's
 * environment. Either way the token stays on the server: the page only ever talks to `/api/push`.
 */
export type PushSender = Pick<PushRouter, "send">;

export interface WebAppOptions {
  store: Store;
  secret: string;
  /** Delivers the page's pushes (see {@link PushSender}). */
  push: PushSender;
  /**
   * Called after a session ends (logout, or replaced by a new login) with its id, so that the sockets
   * opened with it can be dropped: they were authorized once, at their handshake, and would live on.
   */
  onSessionEnded(sessionId: string): void;
  /** Called after a session joined or left a room, with its id and all its rooms now, so its open sockets follow. */
  onRoomsChanged(sessionId: string, rooms: readonly DemoRoom[]): void;
}

// Names become room names (`user:<name>`) and appear on every page: keep them short and printable.
const USER_NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,23}$/u;
const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));
const MAX_NOTICE = 280;
// The push form waits for the recipients' acknowledgements, to show how many sockets really got it.
const PUSH_ACK_TIMEOUT = 2000;
// Per user: plenty to try the form, too few to flood every other tab.
const PUSH_BURST = 10;
const PUSH_WINDOW_MS = 10_000;

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
export function createWebApp({ store, secret, push, onSessionEnded, onRoomsChanged }: WebAppOptions): Express {
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
    res
      .set("Cache-Control", "no-store")
      .json({ user: data.userId ?? null, loggedInAt: data.loggedInAt ?? null, rooms: data.rooms ?? [] });
  });

  app.post("/login", sameOrigin, express.urlencoded({ extended: false, limit: "2kb" }), (req, res, next) => {
    const raw: unknown = (req.body as Record<string, unknown> | undefined)?.name;
    const name = typeof raw === "string" ? raw.normalize("NFC").trim() : "";
    if (!USER_NAME.test(name)) {
      reply(req, res, 400, {
        ok: false,
        error: "Pick a name of 1 to 24 letters, digits, spaces, dots, dashes or underscores.",
      });
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

  // Rooms live in the session, so every tab of it shares them and a socket opened later joins them at
  // its handshake, from `socket.data.session` (live.ts).
  app.post(
    "/api/rooms/:action",
    sameOrigin,
    express.urlencoded({ extended: false, limit: "1kb" }),
    (req, res, next) => {
      const action = req.params.action;
      if (action !== "join" && action !== "leave") {
        reply(req, res, 404, { ok: false, error: "POST /api/rooms/join or /api/rooms/leave." });
        return;
      }
      if (fields(req).userId === undefined) {
        reply(req, res, 401, { ok: false, error: "Log in to join rooms." });
        return;
      }
      const room: unknown = (req.body as Record<string, unknown> | undefined)?.room;
      if (!isDemoRoom(room)) {
        reply(req, res, 400, { ok: false, error: `Pick one of the rooms: ${DEMO_ROOMS.join(", ")}.` });
        return;
      }
      const joined = new Set(fields(req).rooms ?? []);
      if (action === "join") joined.add(room);
      else joined.delete(room);
      const rooms = DEMO_ROOMS.filter((each) => joined.has(each));
      Object.assign(req.session, { rooms } satisfies DemoSession);
      const sessionId = req.sessionID;
      req.session.save((error: unknown) => {
        if (error) return next(error);
        onRoomsChanged(sessionId, rooms);
        reply(req, res, 200, { ok: true, rooms });
      });
    },
  );

  // The page's push form. The browser names a target and a text; the server adds who sends it (from the
  // session) and hands it to the push router, token and all, on this side.
  const pushAllowed = burstLimiter(PUSH_BURST, PUSH_WINDOW_MS);
  app.post("/api/push", sameOrigin, express.urlencoded({ extended: false, limit: "2kb" }), async (req, res) => {
    const from = fields(req).userId;
    if (from === undefined) {
      reply(req, res, 401, { ok: false, error: "Log in to push." });
      return;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const target = readTarget(body);
    if (typeof target === "string") {
      reply(req, res, 400, { ok: false, error: target });
      return;
    }
    const text = typeof body.text === "string" ? body.text.trim() : "";
    if (text === "" || text.length > MAX_NOTICE) {
      reply(req, res, 400, { ok: false, error: `Write 1 to ${MAX_NOTICE} characters.` });
      return;
    }
    if (!pushAllowed(from)) {
      reply(req, res, 429, { ok: false, error: "Slow down a little." });
      return;
    }
    const notice: Notice = { id: randomUUID(), from, to: target, text, at: Date.now() };
    const answer = await push.send({
      id: notice.id,
      to: routerTarget(target),
      event: NOTICE_EVENT,
      data: notice,
      ack: { timeout: PUSH_ACK_TIMEOUT },
    });
    reply(req, res, 200, {
      ok: true,
      id: answer.id,
      recipients: answer.recipients,
      acked: answer.acked,
      complete: answer.complete,
    } satisfies PushReply);
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const given = (error as { status?: unknown } | null)?.status;
    const status = typeof given === "number" && given >= 400 && given < 600 ? given : 500;
    // The page gets a sentence, never the error's own text (a store's or the router's detail).
    const text = status >= 500 ? "Something went wrong." : "Bad request.";
    if (req.accepts(["html", "json"]) === "json") res.status(status).json({ ok: false, error: text });
    else res.status(status).type("text/plain").send(text);
  });
  return app;
}

function fields(req: Request): DemoSession {
  return req.session as DemoSession;
}

/** The push form's target, or what is wrong with it. */
function readTarget(body: Record<string, unknown>): NoticeTarget | string {
  switch (body.target) {
    case "user": {
      const name = typeof body.user === "string" ? body.user.normalize("NFC").trim() : "";
      return USER_NAME.test(name) ? { kind: "user", name } : "Name the user to push to (as they logged in).";
    }
    case "room":
      return isDemoRoom(body.room)
        ? { kind: "room", name: body.room }
        : `Pick one of the rooms: ${DEMO_ROOMS.join(", ")}.`;
    case "all":
      return { kind: "all" };
    default:
      return "Push to a user, a room or everyone.";
  }
}

function routerTarget(target: NoticeTarget): PushTo {
  switch (target.kind) {
    case "user":
      return { user: target.name };
    case "room":
      return { room: roomOf(target.name) };
    case "all":
      return { all: true };
  }
}

/** `allowed(key)`: true while `key` took fewer than `limit` turns in the last `windowMs`. */
function burstLimiter(limit: number, windowMs: number): (key: string) => boolean {
  const taken = new Map<string, number[]>();
  return (key) => {
    const now = Date.now();
    // Forget whoever went quiet, so the map does not grow with every name ever used.
    for (const [each, times] of taken) {
      while (times.length > 0 && now - times[0]! > windowMs) times.shift();
      if (times.length === 0) taken.delete(each);
    }
    const times = taken.get(key) ?? [];
    if (times.length >= limit) return false;
    times.push(now);
    taken.set(key, times);
    return true;
  };
}

/** The page's script asks for JSON; a plain form submission gets a redirect back to the page. */
function reply<B extends { ok: boolean; error?: string }>(req: Request, res: Response, status: number, body: B): void {
  if (req.accepts(["html", "json"]) === "json") {
    res.status(status).json(body);
  } else if (body.ok) {
    res.redirect(303, "/");
  } else {
    res
      .status(status)
      .type("text/plain")
      .send(body.error ?? "Bad request.");
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
