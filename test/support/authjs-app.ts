import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ExpressAuth, type ExpressAuthConfig } from "@auth/express";
import Credentials from "@auth/express/providers/credentials";
import Resend from "@auth/express/providers/resend";
import type { Adapter } from "@auth/core/adapters";
import express from "express";

/** The cookies a browser holds after some responses: name → value, as the Set-Cookie headers left them. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  /** Takes the response's Set-Cookie headers: a cookie set, or removed (Max-Age=0 / an Expires in the past). */
  take(response: Response): this {
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const removed = attributes.some((attribute) => {
        const [key = "", val = ""] = attribute.split("=").map((part) => part.trim());
        return (
          (key.toLowerCase() === "max-age" && Number(val) <= 0) ||
          (key.toLowerCase() === "expires" && Date.parse(val) <= Date.now())
        );
      });
      if (removed || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return this;
  }

  /** The Cookie header the browser sends next. */
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  /** The names of the cookies held. */
  names(): string[] {
    return [...this.cookies.keys()];
  }
}

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
