import type { SessionStore } from "socket.io-session-auth";
import { cookieStore, type CookieSessionFormat } from "socket.io-session-auth/cookie";
import { describeSessionStore, type StoreHarness } from "socket.io-session-auth/testing";

type Session = Record<string, unknown>;

/**
 * For a cookie store the "id" is the session itself, so the kit's ids cannot be handed to it as they are.
 * The harness keeps the cookie value each kit id stands for (written exactly as the libraries encode it)
 * and passes that value to the real adapter. An id the kit never wrote stands for a cookie the web app
 * never issued: in production no secret verifies it, so `sessionAuth` refuses it with BAD_SIGNATURE
 * before any store is asked; here the harness answers null for it without asking the adapter.
 */
function harness(
  format: CookieSessionFormat,
  encode: (session: Session, expires?: Date) => string,
): StoreHarness<Session> {
  const cookies = new Map<string, string>();
  const adapter = cookieStore<Session>({ format });
  const store: SessionStore<Session> = {
    name: adapter.name,
    get: (id, options) => {
      const value = cookies.get(id);
      return value === undefined ? Promise.resolve(null) : adapter.get(value, options);
    },
  };
  return {
    store,
    write: async (id, session, options) => void cookies.set(id, encode(session, options?.expires)),
    writeCorrupt: async (id) =>
      void cookies.set(id, format === "connect" ? "j:{not json" : Buffer.from("{not json").toString("base64")),
  };
}

// cookie-session and koa-session: Buffer.from(JSON.stringify(session)).toString("base64"); koa-session adds
// `_expire` (epoch ms) and `_maxAge`, which is how the kit's `expires` is expressed.
describeSessionStore(
  "cookie (cookie-session / koa-session format)",
  () =>
    harness("cookie-session", (session, expires) =>
      Buffer.from(
        JSON.stringify(
          expires === undefined ? session : { ...session, _expire: expires.getTime(), _maxAge: 3_600_000 },
        ),
      ).toString("base64"),
    ),
  { capabilities: { subscribe: false, expiry: "record" } },
);

// Connect 2's cookieSession: "j:" + JSON.stringify(session); it kept no expiry in the cookie.
describeSessionStore(
  "cookie (legacy Connect format)",
  () => harness("connect", (session) => `j:${JSON.stringify(session)}`),
  { capabilities: { subscribe: false, expiry: false } },
);
