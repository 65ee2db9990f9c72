import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getIronSession as getIronSession9 } from "iron-session";
import { getIronSession as getIronSession8 } from "iron-session8";
import { CookieJar } from "./cookies.js";

export interface IronSessionApp {
  url: string;
  /** Logs `userId` in through iron-session's own `session.save()` (with `extra` in the session too). */
  login(userId: string, extra?: Record<string, unknown>): Promise<CookieJar>;
  /** Logs out through `session.destroy()`; the jar loses the cookie(s). */
  logout(jar: CookieJar): Promise<void>;
  close(): Promise<void>;
}

export interface IronSessionAppOptions {
  password: string | Record<number, string>;
  cookieName: string;
  /** Seconds (iron-session's `ttl`; default its 14 days). */
  ttl?: number;
  /** iron-session 9's `chunk: true` (sessions over 4 KB split into `name.0`, `name.1`...). */
  chunk?: boolean;
  /** Which iron-session writes the cookies (default 9). */
  version?: 8 | 9;
}

/** A real node:http app with iron-session on 127.0.0.1: the web side that seals the sessions. */
export async function startIronSessionApp(options: IronSessionAppOptions): Promise<IronSessionApp> {
  const sessionOptions = {
    password: options.password,
    cookieName: options.cookieName,
    ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
    ...(options.chunk === undefined ? {} : { chunk: options.chunk }),
    cookieOptions: { secure: false }, // plain http on loopback
  };
  const server: Server = createServer(async (req, res) => {
    try {
      const session = (
        options.version === 8
          ? await getIronSession8<Record<string, unknown>>(req, res, sessionOptions)
          : await getIronSession9<Record<string, unknown>>(req, res, sessionOptions)
      ) as Record<string, unknown> & { save(): Promise<void>; destroy(): void };
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method === "POST" && url.pathname === "/login") {
        const body = JSON.parse(await text(req)) as Record<string, unknown>;
        Object.assign(session, body);
        await session.save();
      } else if (req.method === "POST" && url.pathname === "/logout") {
        session.destroy();
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ok: true }));
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (path: string, jar: CookieJar, body: unknown = {}): Promise<void> => {
    const response = await fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: jar.header() },
      body: JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`iron-session app: ${path} answered ${response.status}: ${await response.text()}`);
    jar.take(response);
  };
  return {
    url,
    async login(userId, extra = {}) {
      const jar = new CookieJar();
      await post("/login", jar, { userId, ...extra });
      return jar;
    },
    logout: (jar) => post("/logout", jar),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

async function text(req: AsyncIterable<Buffer | string>): Promise<string> {
  let body = "";
  for await (const chunk of req) body += chunk.toString();
  return body;
}
