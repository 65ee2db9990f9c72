import { randomBytes } from "node:crypto";
import type { SessionStore } from "socket.io-session-auth";
import { betterAuthStore, type BetterAuthSession } from "socket.io-session-auth/better-auth";
import { describeSessionStore, type StoreHarness } from "socket.io-session-auth/testing";
import { emptyDb, makeBetterAuth, memorySecondaryStorage } from "../../support/better-auth-app.js";
import { keptValueStore } from "../../support/store-calls.js";

type Session = Record<string, unknown>;

const DEFAULT_TTL_MS = 3_600_000;

/**
 * Sessions written by Better Auth's own `internalAdapter.createSession` (as its sign-in does) into its
 * memory database, or its `secondaryStorage` too. The kit's session rides in an additional session field
 * `app` (declared in the Better Auth config, as an app declares its own), a JSON string the harness hands
 * back; each kit id stands for the session token Better Auth made.
 */
async function harness(withSecondaryStorage: boolean): Promise<StoreHarness<Session>> {
  const db = emptyDb();
  const { storage, state } = memorySecondaryStorage();
  const auth = makeBetterAuth(db, {
    session: { additionalFields: { app: { type: "string", required: false } } },
    ...(withSecondaryStorage ? { secondaryStorage: storage } : {}),
  });
  const { internalAdapter } = await auth.$context;
  // A user signed up through Better Auth's own API (which also opens a session the kit never sees).
  const { user } = await auth.api.signUpEmail({
    body: {
      email: `${randomBytes(8).toString("hex")}@example.com`,
      password: "correct horse battery staple",
      name: "kit",
    },
  });
  const { store, values: tokens } = keptValueStore(
    (await betterAuthStore(auth)) as SessionStore<BetterAuthSession>,
    (record) => JSON.parse(String(record.session.session.app)) as Record<string, unknown>,
  );
  return {
    store,
    write: async (id, session, options) => {
      const expiresAt = options?.expires ?? new Date(Date.now() + DEFAULT_TTL_MS);
      // overrideAll: Better Auth computes expiresAt itself unless told to take the given one.
      const created = await internalAdapter.createSession(
        user.id,
        false,
        { app: JSON.stringify(session), expiresAt },
        true,
      );
      tokens.set(id, created.token);
    },
    breakStore: async () => {
      if (withSecondaryStorage) state.down = true;
      // The memory database is the object Better Auth reads its tables from: a lost database throws.
      else
        Object.defineProperty(db, "session", {
          get: () => {
            throw new Error("the database went away");
          },
        });
    },
  };
}

const capabilities = { subscribe: false, expiry: "record", expires: true } as const;

describeSessionStore("better-auth (its memory database)", () => harness(false), { capabilities });
describeSessionStore("better-auth (with secondaryStorage)", () => harness(true), { capabilities });
