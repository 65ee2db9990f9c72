import { encode } from "@auth/core/jwt";
import { createRequire } from "node:module";
import { sealData } from "iron-session";
import type { SessionStore } from "socket.io-session-auth";
import { authjsStore } from "socket.io-session-auth/authjs";
import { ironSessionStore } from "socket.io-session-auth/iron-session";
import { describeSessionStore, type StoreHarness } from "socket.io-session-auth/testing";

type Session = Record<string, unknown>;

const SECRET = "an AUTH_SECRET for the conformance kit, long enough";
const PASSWORD = "an iron-session password, 32 characters or more";
const COOKIE = "authjs.session-token";
const COOKIE_V4 = "next-auth.session-token";
const DEFAULT_TTL_S = 3600;

// next-auth 4 is CommonJS; required so that its types (which pull in Next.js's) stay out of the program.
const { encode: encodeV4 } = createRequire(import.meta.url)("next-auth/jwt") as {
  encode(params: { token: Record<string, unknown>; secret: string; maxAge?: number }): Promise<string>;
};

/**
 * As for cookie sessions (see test/unit/cookie/conformance.test.ts): the session is the cookie, so the harness keeps
 * the cookie value each kit id stands for, written by the real library, and hands that value to the real
 * adapter. An id the kit never wrote stands for a cookie the web app never issued, which no secret
 * decrypts: the harness answers null for it without asking the adapter.
 */
function harness(
  adapter: SessionStore<Session>,
  seal: (session: Session, ttlSeconds: number) => Promise<string>,
  corrupt: string,
  strip: (session: Session) => Session = (session) => session,
  cookieName = COOKIE,
): StoreHarness<Session> {
  const cookies = new Map<string, string>();
  const store: SessionStore<Session> = {
    name: adapter.name,
    get: async (id, options) => {
      const value = cookies.get(id);
      if (value === undefined) return null;
      const record = await adapter.get(value, { ...options, cookieName });
      return record === null ? null : { ...record, session: strip(record.session) };
    },
  };
  return {
    store,
    write: async (id, session, options) => {
      const ttl = options?.expires === undefined ? DEFAULT_TTL_S : (options.expires.getTime() - Date.now()) / 1000;
      cookies.set(id, await seal(session, Math.round(ttl) === 0 ? -1 : Math.round(ttl)));
    },
    writeCorrupt: async (id) => void cookies.set(id, corrupt),
  };
}

// Auth.js adds the registered claims iat, exp and jti to every token; the kit compares the app's own.
const withoutRegisteredClaims = ({ iat: _iat, exp: _exp, jti: _jti, ...claims }: Session): Session => claims;

describeSessionStore(
  "authjs (v5 JWT, as @auth/core's encode writes it)",
  () =>
    harness(
      authjsStore({ secret: SECRET }) as unknown as SessionStore<Session>,
      (session, maxAge) => encode({ token: session, secret: SECRET, salt: COOKIE, maxAge }),
      "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0..AAAA.BBBB.CCCC",
      withoutRegisteredClaims,
    ),
  { capabilities: { subscribe: false, expiry: "record", expires: true } },
);

describeSessionStore(
  "authjs (NextAuth v4 JWT, as next-auth/jwt's encode writes it)",
  () =>
    harness(
      authjsStore({ secret: SECRET, version: 4 }) as unknown as SessionStore<Session>,
      (session, maxAge) => encodeV4({ token: session, secret: SECRET, maxAge }),
      "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.BBBB.CCCC",
      withoutRegisteredClaims,
      COOKIE_V4,
    ),
  { capabilities: { subscribe: false, expiry: "record", expires: true } },
);

describeSessionStore(
  "iron-session (as iron-session 9's sealData writes it)",
  () =>
    harness(
      ironSessionStore({ password: PASSWORD, cookieName: "app" }) as SessionStore<Session>,
      (session, ttl) => sealData(session, { password: PASSWORD, ttl }),
      "Fe26.2*1*salt*iv*data**hmacsalt*hmac~2",
    ),
  { capabilities: { subscribe: false, expiry: "record", expires: true } },
);
