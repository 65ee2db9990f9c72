import { once } from "node:events";
import { createRequire } from "node:module";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CookieJar } from "./authjs-app.js";

// next-auth 4 is CommonJS; required so that its types (which pull in Next.js's) stay out of the program.
const require = createRequire(import.meta.url);
type Handler = (req: unknown, res: unknown, options: Record<string, unknown>) => Promise<unknown>;
const NextAuth = (require("next-auth") as { default: Handler }).default;
const Credentials = (require("next-auth/providers/credentials") as { default: (config: object) => object }).default;

export interface NextAuth4App {
  url: string;
  /**
   * Signs `username` in: JWT sessions through next-auth 4's own credentials callback (CSRF token first, as
   * its sign-in page posts it); database sessions through its email sign-in (the link caught instead of
   * mailed, then followed), so next-auth creates the user and the session row through the adapter.
   */
  signIn(username: string, password?: string): Promise<CookieJar>;
  /** Signs out through next-auth 4's own sign-out action; the jar loses the session cookie(s). */
  signOut(jar: CookieJar): Promise<void>;
  close(): Promise<void>;
}

export interface NextAuth4AppOptions {
  secret: string;
  /** Extra claims put into the JWT (a big one makes next-auth chunk the cookie). */
  claims?: Record<string, unknown>;
  /**
   * next-auth's `events.signOut`: `{ token }` (the JWT) for JWT sessions, `{ session }` (what the
   * adapter's deleteSession returned) for database sessions.
   */
  onSignOut?: (message: { token?: { sub?: string }; session?: { sessionToken?: string } | null }) => unknown;
  /** Database sessions through this adapter (next-auth 4's adapter interface), instead of JWT sessions. */
  adapter?: object;
}

const BASE_PATH = "/api/auth";

/**
 * NextAuth.js v4's own API-route handler, `NextAuth(req, res, options)`, on plain node:http: what Next.js's
 * Pages Router hands it is the request with `query` (the catch-all segments as `query.nextauth`), `body`
 * (parsed) and `cookies`, and a response with `status`/`json`/`send`; this router adds those and nothing
 * else. JWT sessions, a Credentials provider: any username signs in with the password "pw" as user id
 * `id-<username>`. next-auth 4 finds its own URL in `NEXTAUTH_URL`, so `start` sets it (a process-wide
 * variable: one app per test file at a time).
 */
export async function startNextAuth4App(options: NextAuth4AppOptions): Promise<NextAuth4App> {
  let url = "";
  const links = new Map<string, string>();
  const database = options.adapter !== undefined;
  // next-auth 4 allows Credentials with JWT sessions only, and email sign-in with an adapter only. Its
  // EmailProvider factory requires nodemailer at load; the provider it returns is this plain object.
  const email = {
    id: "email",
    type: "email",
    name: "Email",
    maxAge: 600,
    options: {},
    sendVerificationRequest: ({ identifier, url }: { identifier: string; url: string }) =>
      void links.set(identifier, url),
  };
  const config = {
    secret: options.secret,
    session: { strategy: database ? "database" : "jwt", maxAge: 3600 },
    ...(database ? { adapter: options.adapter } : {}),
    providers: database
      ? [email]
      : [
          Credentials({
            credentials: { username: {}, password: {} },
            authorize: (credentials: Record<string, string> | undefined) =>
              credentials?.username !== undefined && credentials.password === "pw"
                ? {
                    id: `id-${credentials.username}`,
                    name: credentials.username,
                    email: `${credentials.username}@example.com`,
                  }
                : null,
          }),
        ],
    callbacks: { jwt: ({ token }: { token: object }) => ({ ...token, ...options.claims }) },
    events: {
      signOut: (message: Parameters<NonNullable<NextAuth4AppOptions["onSignOut"]>>[0]) => options.onSignOut?.(message),
    },
  };
  const server: Server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const where = new URL(req.url ?? "/", url);
    if (!where.pathname.startsWith(`${BASE_PATH}/`)) {
      res.writeHead(404).end();
      return;
    }
    const query = {
      ...Object.fromEntries(where.searchParams),
      nextauth: where.pathname.slice(BASE_PATH.length + 1).split("/"),
    };
    const text = await bodyOf(req);
    const type = req.headers["content-type"] ?? "";
    const body = type.includes("application/json")
      ? (JSON.parse(text) as unknown)
      : type.includes("application/x-www-form-urlencoded")
        ? Object.fromEntries(new URLSearchParams(text))
        : {};
    const nextRes = Object.assign(res, {
      status: (code: number) => Object.assign(res, { statusCode: code }),
      json: (value: unknown) => res.setHeader("content-type", "application/json").end(JSON.stringify(value)),
      send: (value: unknown) =>
        typeof value === "string" || Buffer.isBuffer(value) ? res.end(value) : nextRes.json(value ?? null),
    });
    await NextAuth(Object.assign(req, { query, body, cookies: cookiesOf(req.headers.cookie) }), nextRes, config);
  }
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.NEXTAUTH_URL = `${url}${BASE_PATH}`;

  const csrf = async (jar: CookieJar): Promise<string> => {
    const response = await fetch(`${url}${BASE_PATH}/csrf`, { headers: { cookie: jar.header() } });
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
    async signIn(username, password = "pw") {
      const jar = new CookieJar();
      const csrfToken = await csrf(jar);
      if (database) {
        const address = `${username}@example.com`;
        jar.take(
          await fetch(`${url}${BASE_PATH}/signin/email`, form(jar, { csrfToken, email: address, callbackUrl: url })),
        );
        const link = links.get(address);
        if (link === undefined) throw new Error("next-auth 4 sent no sign-in link");
        const response = await fetch(link, { redirect: "manual", headers: { cookie: jar.header() } });
        jar.take(response);
        if (!jar.names().includes("next-auth.session-token")) {
          throw new Error(`next-auth 4 email sign-in failed: ${response.status} ${response.headers.get("location")}`);
        }
        return jar;
      }
      const response = await fetch(
        `${url}${BASE_PATH}/callback/credentials`,
        form(jar, { csrfToken, username, password, callbackUrl: url }),
      );
      jar.take(response);
      if (response.status !== 302) throw new Error(`next-auth 4 sign-in answered ${response.status}`);
      return jar;
    },
    async signOut(jar) {
      const csrfToken = await csrf(jar);
      jar.take(await fetch(`${url}${BASE_PATH}/signout`, form(jar, { csrfToken, callbackUrl: url })));
    },
    close: async () => {
      delete process.env.NEXTAUTH_URL;
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

function cookiesOf(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const pair of (header ?? "").split(";")) {
    const at = pair.indexOf("=");
    if (at < 1) continue;
    const name = pair.slice(0, at).trim();
    try {
      cookies[name] ??= decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      // not percent-encoding: next-auth would not have written it
    }
  }
  return cookies;
}

async function bodyOf(req: AsyncIterable<Buffer | string>): Promise<string> {
  let body = "";
  for await (const chunk of req) body += chunk.toString();
  return body;
}
