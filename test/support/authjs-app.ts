import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ExpressAuth, type ExpressAuthConfig } from "@auth/express";
import Credentials from "@auth/express/providers/credentials";
import Resend from "@auth/express/providers/resend";
import type { Adapter } from "@auth/core/adapters";
import express from "express";
import { CookieJar } from "./cookies.js";

// The jar lives in ./cookies.ts; exported from here too, where the Auth.js and iron-session tests take it.
export { CookieJar } from "./cookies.js";

export interface AuthjsApp {
  url: string;
  /**
   * Signs `username` in: JWT sessions through Auth.js's own Credentials callback (CSRF token first, as a
   * browser form); database sessions through its email sign-in (the magic link, caught instead of mailed,
   * then followed), so Auth.js itself creates the user and the session row through the adapter.
   */
  signIn(username: string, jar?: CookieJar): Promise<CookieJar>;
  /** Signs out through Auth.js's own sign-out action; the jar loses the session cookie(s). */
  signOut(jar: CookieJar): Promise<void>;
  close(): Promise<void>;
}

export interface AuthjsAppOptions {
  secret: string | string[];
  /** Session lifetime in seconds (Auth.js `session.maxAge`). */
  maxAge?: number;
  /** Extra claims put into the JWT (a big one makes Auth.js chunk the cookie). */
  claims?: Record<string, unknown>;
  /** Auth.js `useSecureCookies` (the `__Secure-` names; Auth.js sets them even over http when told). */
  useSecureCookies?: boolean;
  /** Database sessions through this Auth.js adapter (sign-in by email link), instead of JWT sessions. */
  adapter?: Adapter;
  /** Auth.js `events` (signOut...). */
  events?: ExpressAuthConfig["events"];
}

const credentials = () =>
  Credentials({
    credentials: { username: {}, password: {} },
    authorize: (credentials) =>
      typeof credentials.username === "string" && credentials.password === "pw"
        ? {
            id: `id-${credentials.username}`,
            name: credentials.username,
            email: `${credentials.username}@example.com`,
          }
        : null,
  });

/**
 * A real Express app with `@auth/express` (Auth.js v5) on 127.0.0.1. JWT sessions: a Credentials provider,
 * where any username signs in with the password "pw" as user id `id-<username>`. Database sessions (with
 * `adapter`): email sign-in (Resend's provider, its mail caught), where Auth.js creates the user.
 */
export async function startAuthjsApp(options: AuthjsAppOptions): Promise<AuthjsApp> {
  const links = new Map<string, string>();
  const database = options.adapter !== undefined;
  const config: ExpressAuthConfig = {
    secret: options.secret,
    trustHost: true,
    useSecureCookies: options.useSecureCookies ?? false,
    session: { strategy: database ? "database" : "jwt", maxAge: options.maxAge ?? 3600 },
    ...(database ? { adapter: options.adapter } : {}),
    // Auth.js allows Credentials with JWT sessions only, and email sign-in with an adapter only.
    providers: database
      ? [
          Resend({
            apiKey: "unused: the link is caught below",
            from: "auth@example.com",
            sendVerificationRequest: ({ identifier, url }) => void links.set(identifier, url),
          }),
        ]
      : [credentials()],
    callbacks: {
      jwt: ({ token }) => ({ ...token, ...options.claims }),
    },
    ...(options.events === undefined ? {} : { events: options.events }),
  };
  const app = express();
  app.set("trust proxy", true);
  app.use("/auth", ExpressAuth(config));
  const server: Server = createServer(app);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const csrf = async (jar: CookieJar): Promise<string> => {
    const response = await fetch(`${url}/auth/csrf`, { headers: { cookie: jar.header() } });
    jar.take(response);
    return ((await response.json()) as { csrfToken: string }).csrfToken;
  };
  const form = (jar: CookieJar, fields: Record<string, string>): RequestInit => ({
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams(fields).toString(),
  });

  return {
    url,
    async signIn(username, jar = new CookieJar()) {
      const csrfToken = await csrf(jar);
      if (database) {
        const email = `${username}@example.com`;
        jar.take(await fetch(`${url}/auth/signin/resend`, form(jar, { csrfToken, email, callbackUrl: url })));
        const link = links.get(email);
        if (link === undefined) throw new Error("Auth.js sent no sign-in link");
        const response = await fetch(link, { redirect: "manual", headers: { cookie: jar.header() } });
        jar.take(response);
        if (!jar.names().some((name) => name.includes("session-token"))) {
          throw new Error(`Auth.js email sign-in failed: ${response.status} ${response.headers.get("location")}`);
        }
        return jar;
      }
      const response = await fetch(
        `${url}/auth/callback/credentials`,
        form(jar, { csrfToken, username, password: "pw", callbackUrl: url }),
      );
      jar.take(response);
      if (response.status !== 302 || !jar.names().some((name) => name.includes("session-token"))) {
        throw new Error(`Auth.js sign-in failed: ${response.status} ${response.headers.get("location")}`);
      }
      return jar;
    },
    async signOut(jar) {
      const csrfToken = await csrf(jar);
      jar.take(await fetch(`${url}/auth/signout`, form(jar, { csrfToken, callbackUrl: url })));
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
