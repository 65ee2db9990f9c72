/**
 * The demo: `npm start`. One process, no outside server: Express + express-session (MemoryStore) for
 * the login, socket.io on the same HTTP server, socket.io-session-auth reading the very same store, and
 * its push router delivering the page's pushes to a user, a room or everyone.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { realpathSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth, type SessionAuthError } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { createPushRouter, type PushRouter } from "socket.io-session-auth/push";
import { attachLive, type DemoServer, type Live } from "./live.js";
import { createWebApp, type DemoSession } from "./web.js";

// What the push router accepts as a token (createPushRouter checks it too, with its own message).
const PUSH_TOKEN_FORMAT = /^[\x21-\x7e]{16,}$/;

export interface DemoOptions {
  /** TCP port; 0 picks a free one (tests). Default 3000. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1: anyone who reaches the demo can log in as anyone. */
  host?: string;
  /** express-session's secret, which `sessionAuth` must be given too. Default: random for this run. */
  secret?: string;
  /**
   * The bearer token of the push router's own HTTP endpoint (`POST /push`, for curl or another service).
   * Default: random for this run, so that nobody outside can push. The page never needs it: it posts to
   * `/api/push`, and the server calls `push.send()`.
   */
  pushToken?: string;
  /** Where the server-side diagnosis of each refused socket (and each failed push) goes (default: nowhere). */
  log?: (line: string) => void;
}

export interface Demo {
  /** The URL to open, with a trailing slash. */
  url: string;
  /** The push router's endpoint: `POST` here with `Authorization: Bearer <pushToken>`. */
  pushUrl: string;
  close(): Promise<void>;
}

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const {
    port = 3000,
    host = "127.0.0.1",
    secret = randomBytes(32).toString("base64url"),
    pushToken = randomBytes(32).toString("base64url"),
    log,
  } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new TypeError("startDemo: `port` must be an integer from 0 to 65535.");
  if (typeof secret !== "string" || secret === "")
    throw new TypeError("startDemo: `secret` must be a non-empty string.");
  if (typeof pushToken !== "string" || !PUSH_TOKEN_FORMAT.test(pushToken)) {
    // Never echo the token: this message may reach a log.
    throw new TypeError("startDemo: `pushToken` must be at least 16 visible ASCII characters (openssl rand -hex 32).");
  }

  // The one store both sides share: express-session writes sessions into it, the sockets read them back.
  const store = new session.MemoryStore();
  const app = createWebApp({
    store,
    secret,
    // When a session ends (logout, or replaced by a new login), its sockets end too, on every node:
    // each gets "session:ended" { code } and is disconnected. The page's next try is a new handshake,
    // checked again (refused after a logout, the new user after a new login).
    onSessionEnded: (sessionId) => void auth.endSession(io, sessionId),
    onRoomsChanged: (sessionId, rooms) => live.setSessionRooms(sessionId, rooms),
    // Called only once requests arrive, when the router below exists.
    push: { send: (message) => push.send(message) },
  });
  const http = createServer(app);
  // No `allowRequest: auth.allowRequest` here on purpose: a refusal there happens below socket.io and the
  // page would see a bare transport error, while the middleware's refusal carries the code it displays.
  const io: DemoServer = new Server(http, { serveClient: true });
  const auth = sessionAuth<DemoSession>({
    store: memoryStore(store),
    secret,
    // The web app changes the session (the rooms) over HTTP, and a tab opened right after must see the
    // change: every handshake reads the store, rather than sharing a sibling tab's read of up to 5 s ago.
    sharedReadMaxAge: false,
    onError: (error: SessionAuthError) => log?.(`socket refused: ${error.code}: ${error.message}`),
  });
  auth.attach(io);
  const live: Live = attachLive(io);
  // `auth` tells the router how sessionAuth names the rooms (`user:<id>`). attach() serves POST /push on
  // this very server, in front of socket.io and the web app.
  const push: PushRouter = createPushRouter(io, {
    tokens: [pushToken],
    auth,
    onError: (error) => log?.(`push failed: ${error.code}: ${error.message}`),
  });
  push.attach(http);

  http.listen(port, host);
  try {
    await once(http, "listening"); // rejects with the listen error (EADDRINUSE, ...)
  } catch (error) {
    await io.close();
    throw error;
  }
  const address = http.address() as AddressInfo;
  const url = `http://${displayHost(address.address)}:${address.port}/`;
  return {
    url,
    pushUrl: `${url}push`,
    close: async () => {
      await push.close(); // waits for pushes still collecting acks
      await auth.close(); // the lifecycle's timers
      io.disconnectSockets(true);
      http.closeAllConnections();
      await io.close(); // closes the HTTP server too
    },
  };
}

function displayHost(address: string): string {
  // An address bound on every interface is opened through the loopback one.
  if (address === "0.0.0.0" || address === "::") return "localhost";
  return address.includes(":") ? `[${address}]` : address;
}

function readPort(value: string | undefined): number {
  if (value === undefined || value === "") return 3000;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535)
    throw new TypeError(`PORT must be a port number (0 to 65535), not ${JSON.stringify(value)}.`);
  return port;
}

async function main(): Promise<void> {
  const fromEnv = process.env.SESSION_SECRET;
  const secret = fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
  const pushToken = process.env.PUSH_TOKEN === "" ? undefined : process.env.PUSH_TOKEN;
  if (pushToken !== undefined && !PUSH_TOKEN_FORMAT.test(pushToken)) {
    throw new TypeError("PUSH_TOKEN must be at least 16 visible ASCII characters, no spaces: openssl rand -hex 32.");
  }
  const demo = await startDemo({
    port: readPort(process.env.PORT),
    host: process.env.HOST === undefined || process.env.HOST === "" ? undefined : process.env.HOST,
    secret,
    pushToken,
    log: (line) => console.log(line),
  });
  console.log(
    [
      `socket.io-session-auth demo: open ${demo.url}`,
      ...(secret === undefined
        ? [
            "Note: SESSION_SECRET is not set, so this run signs cookies with a random secret (logins last until you stop it).",
          ]
        : []),
      pushToken === undefined
        ? "Push router: POST " +
          demo.pushUrl +
          " needs a token; set PUSH_TOKEN (openssl rand -hex 32) to push with curl."
        : `Push router: POST ${demo.pushUrl} with "Authorization: Bearer $PUSH_TOKEN" (see examples/demo/README.md).`,
      "Demo only: no passwords, anyone who can reach it can log in as anyone. Ctrl+C to stop.",
    ].join("\n"),
  );

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    demo.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main().catch((error: unknown) => {
    const text =
      (error as { code?: unknown })?.code === "EADDRINUSE"
        ? `Port ${process.env.PORT ?? 3000} is in use: set PORT to another one, e.g. PORT=3001 npm start.`
        : error instanceof Error
          ? error.message
          : String(error);
    console.error(`demo: ${text}`);
    process.exit(1);
  });
}
