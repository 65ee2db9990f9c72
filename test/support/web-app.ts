import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express5 from "express";
import express4 from "express4";
import session, { type Store } from "express-session";
import { cookieHeaderOf } from "./cookies.js";

export interface WebApp {
  url: string;
  store: Store;
  /** Logs `user` in over HTTP and returns the Cookie header the browser would send next. */
  login(user: { id: number | string; name?: string }): Promise<string>;
  /** Logs out over HTTP (express-session's `req.session.destroy`). */
  logout(cookie: string): Promise<void>;
  /** Sets session values (an anonymous visitor with a cart, say); with `cookie`, in that existing session. */
  visit(data: Record<string, unknown>, cookie?: string): Promise<string>;
  close(): Promise<void>;
}

export interface WebAppOptions {
  express?: 4 | 5;
  store?: Store;
  secret?: string | Buffer | (string | Buffer)[];
  name?: string;
  maxAge?: number;
  rolling?: boolean;
}

/** A real Express app with real express-session on 127.0.0.1: the web side that issues sessions. */
export async function startWebApp(options: WebAppOptions = {}): Promise<WebApp> {
  const store = options.store ?? new session.MemoryStore();
  const app = (options.express === 4 ? express4 : express5)() as ReturnType<typeof express5>;
  // express-session's session() adds a "connect" and a "disconnect" listener to the store for each app and
  // never takes them off: tests that start many web apps on one shared store (connect-redis, connect-pg-simple)
  // would pile them up past Node's MaxListeners. The app takes its own listeners off when it closes.
  const before = { connect: store.listeners("connect"), disconnect: store.listeners("disconnect") };
  app.use(
    session({
      store,
      secret: options.secret ?? "keyboard cat",
      name: options.name,
      resave: false,
      saveUninitialized: false,
      rolling: options.rolling ?? false,
      cookie: { maxAge: options.maxAge ?? 3_600_000, sameSite: "lax" },
    }),
  );
  const added = (["connect", "disconnect"] as const).flatMap((event) =>
    store
      .listeners(event)
      .filter((listener) => !before[event].includes(listener))
      .map((listener) => [event, listener as (...args: unknown[]) => void] as const),
  );
  app.post("/login", express5.json(), (req, res) => {
    (req.session as unknown as Record<string, unknown>).user = req.body;
    res.json({ ok: true });
  });
  app.post("/visit", express5.json(), (req, res) => {
    Object.assign(req.session, req.body);
    res.json({ ok: true });
  });
  app.post("/logout", (req, res) => {
    req.session.destroy(() => res.json({ ok: true }));
  });
  const server: Server = createServer(app);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const post = async (path: string, body: unknown, cookie?: string): Promise<string> => {
    const res = await fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body ?? {}),
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    await res.arrayBuffer();
    return cookieHeaderOf(res);
  };

  return {
    url,
    store,
    login: async (user) => {
      const cookie = await post("/login", user);
      if (cookie === "") throw new Error("login set no cookie");
      return cookie;
    },
    logout: async (cookie) => void (await post("/logout", {}, cookie)),
    visit: (data, cookie) => post("/visit", data, cookie),
    close: async () => {
      for (const [event, listener] of added) store.off(event, listener);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The session id inside an express-session Cookie header (`connect.sid=s%3A<id>.<mac>`): what the store keys on. */
export function sessionIdOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1).split(";")[0]!);
  return value.slice(2, value.lastIndexOf("."));
}
