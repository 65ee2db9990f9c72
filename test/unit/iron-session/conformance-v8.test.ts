import { sealData } from "iron-session8";
import { expect, it, vi } from "vitest";
import type { SessionStore } from "socket.io-session-auth";
import { ironSessionStore } from "socket.io-session-auth/iron-session";
import { describeSessionStore, type StoreHarness } from "socket.io-session-auth/testing";
import { keptValueStore } from "../../support/store-calls.js";

// The socket.io server of an app still on iron-session 8: the adapter's `import("iron-session")` loads
// v8 here (as in store-v8.test.ts), so both the seals and their unsealing are v8's own code.
vi.mock("iron-session", async () => await import("iron-session8"));

type Session = Record<string, unknown>;

const PASSWORD = "an iron-session password, 32 characters or more";
const DEFAULT_TTL_S = 3600;

/**
 * The session is the cookie (see authjs-and-iron-conformance.test.ts): the harness keeps the seal each
 * kit id stands for, sealed by iron-session 8, and hands it to the real adapter. An id the kit never
 * wrote stands for a cookie the web app never issued: null without asking the adapter.
 */
function harness(): StoreHarness<Session> {
  const { store, values: seals } = keptValueStore(
    ironSessionStore({ password: PASSWORD, cookieName: "app" }) as SessionStore<Session>,
    (record) => record.session,
    "app",
  );
  return {
    store,
    write: async (id, session, options) => {
      const ttl = options?.expires === undefined ? DEFAULT_TTL_S : (options.expires.getTime() - Date.now()) / 1000;
      // iron's ttl 0 means "never expires": a session due now is sealed a second in the past.
      seals.set(id, await sealData(session, { password: PASSWORD, ttl: Math.round(ttl) === 0 ? -1 : Math.round(ttl) }));
    },
    writeCorrupt: async (id) => void seals.set(id, "Fe26.2*1*salt*iv*data**hmacsalt*hmac~2"),
  };
}

describeSessionStore("iron-session (as iron-session 8's sealData writes it, unsealed by v8)", harness, {
  capabilities: { subscribe: false, expiry: "record", expires: true },
});

it("runs against iron-session 8 (the mock took: v9 exports nodeCookies, v8 does not)", async () => {
  expect("nodeCookies" in (await import("iron-session"))).toBe(false);
});
