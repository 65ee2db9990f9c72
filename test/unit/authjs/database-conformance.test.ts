import { randomBytes } from "node:crypto";
import { UnstorageAdapter } from "@auth/unstorage-adapter";
import { createStorage, defineDriver } from "unstorage";
import { afterAll, expect, vi } from "vitest";
import type { SessionStore } from "socket.io-session-auth";
import { authjsStore, type AuthjsDatabaseSession } from "socket.io-session-auth/authjs";
import { describeSessionStore, type StoreHarness } from "socket.io-session-auth/testing";
import { keptValueStore } from "../../support/store-calls.js";

type Session = Record<string, unknown>;

const DEFAULT_TTL_MS = 3_600_000;

// unstorage parses what it stored with destr, which drops a "__proto__" key and says so on console.warn:
// the kit's prototype-pollution check causes exactly that, and nothing else may warn.
const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
afterAll(() => {
  for (const [message] of warn.mock.calls) expect(String(message)).toMatch(/^\[destr\] Dropping "__proto__" key/);
  expect(warn).toHaveBeenCalled();
  warn.mockRestore();
});

/**
 * Auth.js database sessions through Auth.js's own unstorage adapter (what database-sessions.test.ts signs
 * in with). A row holds only the token, the user id and the expiry, so the kit's session rides on the user
 * (a field `app` of a user of its own, created through the adapter's createUser); the harness hands the
 * kit that field back. Each kit id stands for a session token, created through the adapter's createSession.
 */
function harness(): StoreHarness<Session> {
  const memory = new Map<string, unknown>();
  let down = false;
  const reach = <T>(run: () => T): T => {
    if (down) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });
    return run();
  };
  // unstorage's memory driver, with a switch that makes every call fail as a lost database would.
  const driver = defineDriver(() => ({
    name: "memory that can fail",
    hasItem: (key: string) => reach(() => memory.has(key)),
    getItem: (key: string) => reach(() => memory.get(key) ?? null),
    setItem: (key: string, value: string) => reach(() => void memory.set(key, value)),
    removeItem: (key: string) => reach(() => void memory.delete(key)),
    getKeys: () => reach(() => [...memory.keys()]),
    clear: () => reach(() => memory.clear()),
  }))(undefined);
  const adapter = UnstorageAdapter(createStorage({ driver }));
  const { store, values: tokens } = keptValueStore(
    authjsStore({ adapter }) as SessionStore<AuthjsDatabaseSession>,
    (record) => record.session.user.app as Session,
    "authjs.session-token",
  );
  return {
    store,
    write: async (id, session, options) => {
      const user = await adapter.createUser!({
        id: "",
        email: `${randomBytes(8).toString("hex")}@example.com`,
        emailVerified: null,
        app: session,
      } as Parameters<NonNullable<typeof adapter.createUser>>[0]);
      const sessionToken = randomBytes(32).toString("hex");
      const expires = options?.expires ?? new Date(Date.now() + DEFAULT_TTL_MS);
      await adapter.createSession!({ sessionToken, userId: user.id, expires });
      tokens.set(id, sessionToken);
    },
    breakStore: async () => void (down = true),
  };
}

describeSessionStore("authjs (v5 database sessions, through @auth/unstorage-adapter)", harness, {
  capabilities: { subscribe: false, expiry: "record", expires: true },
});
