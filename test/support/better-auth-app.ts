import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { betterAuth, type BetterAuthOptions } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";

export const BETTER_AUTH_SECRET = "better-auth-test-secret-0123456789abcdef";

/** Better Auth's memory database: one object shared by the "web app" and the "socket server" instances. */
export type MemoryDb = Record<string, Record<string, unknown>[]>;
export const emptyDb = (): MemoryDb => ({ user: [], session: [], account: [], verification: [] });

/** A Better Auth instance over `db`, as the web app or the socket server would build it. */
export function makeBetterAuth(db: MemoryDb, options: Partial<BetterAuthOptions> = {}) {
  return betterAuth({
    secret: BETTER_AUTH_SECRET,
    baseURL: "http://127.0.0.1",
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true },
    logger: { disabled: true },
    telemetry: { enabled: false },
    ...options,
  });
}

export interface BetterAuthWebApp {
  url: string;
  auth: ReturnType<typeof makeBetterAuth>;
  /** Signs a new user up over HTTP (Better Auth signs them in) and returns the Cookie header a browser would send. */
  signUp(email: string): Promise<{ cookie: string; userId: string }>;
  /** Signs an existing user in again: a second session. */
  signIn(email: string): Promise<string>;
  /** POST /sign-out with the cookie: Better Auth deletes the session (and runs its delete hooks). */
  signOut(cookie: string): Promise<void>;
  close(): Promise<void>;
}

/** The web side: Better Auth's own HTTP handler (toNodeHandler) on node:http, 127.0.0.1. */
export async function startBetterAuthWebApp(
  db: MemoryDb,
  options: Partial<BetterAuthOptions> = {},
): Promise<BetterAuthWebApp> {
  // The handler needs the URL (Better Auth's baseURL), which needs the server listening first.
  const late: { handler?: ReturnType<typeof toNodeHandler> } = {};
  const server: Server = createServer((req, res) => void late.handler!(req, res));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const auth = makeBetterAuth(db, { baseURL: url, trustedOrigins: [url], ...options });
  late.handler = toNodeHandler(auth);

  const post = async (path: string, body: unknown, cookie?: string) => {
    const res = await fetch(`${url}/api/auth${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: url, ...(cookie === undefined ? {} : { cookie }) },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    const cookies = res.headers
      .getSetCookie()
      .map((line) => line.split(";")[0]!)
      .filter((pair) => !pair.endsWith("="));
    return { json: JSON.parse(text) as Record<string, unknown>, cookie: cookies.join("; ") };
  };
  const password = "correct horse battery staple";
  return {
    url,
    auth,
    signUp: async (email) => {
      const { json, cookie } = await post("/sign-up/email", { email, password, name: email.split("@")[0] });
      if (cookie === "") throw new Error("sign-up set no cookie");
      return { cookie, userId: (json.user as { id: string }).id };
    },
    signIn: async (email) => (await post("/sign-in/email", { email, password })).cookie,
    signOut: async (cookie) => void (await post("/sign-out", {}, cookie)),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Better Auth's `secondaryStorage` contract over a Map (`kv`, for the tests to inspect), with a switch that
 * makes every call fail as an unreachable Redis does (`state.down`).
 */
export function memorySecondaryStorage() {
  const kv = new Map<string, string>();
  const state = { down: false };
  const reach = async <T>(run: () => T): Promise<T> => {
    if (state.down) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });
    return run();
  };
  const storage = {
    get: (key: string) => reach(() => kv.get(key) ?? null),
    set: (key: string, value: string) => reach(() => void kv.set(key, value)),
    delete: (key: string) => reach(() => void kv.delete(key)),
    getAndDelete: (key: string) =>
      reach(() => {
        const value = kv.get(key) ?? null;
        kv.delete(key);
        return value;
      }),
    increment: (key: string) =>
      reach(() => {
        const next = Number(kv.get(key) ?? 0) + 1;
        kv.set(key, String(next));
        return next;
      }),
  };
  return { storage, kv, state };
}
