import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SessionRecord, SessionStore } from "../store.js";

export { signSessionCookie } from "../cookies.js";
export type { SignCookieOptions } from "../cookies.js";

/** What an adapter author's `setup` hands the conformance suite, fresh for every test. */
export interface StoreHarness<S extends object = Record<string, unknown>> {
  /** The adapter under test. */
  store: SessionStore<S>;
  /**
   * Writes a session exactly as the real session library would (connect-redis through node-redis,
   * express-session's MemoryStore...), so the suite checks that the adapter reads the real format.
   * `expires`: when the library should consider it ended.
   */
  write(id: string, session: S, options?: { expires?: Date }): Promise<void>;
  /** Writes something under `id` that no session library could read back (bad JSON, a wrong type). */
  writeCorrupt?(id: string): Promise<void>;
  /**
   * Makes the store itself fail (stop its server, close the client), so the suite can check that `get`
   * then rejects — never resolves null, which would hide an outage as "logged out".
   */
  breakStore?(): Promise<void>;
  /** Deletes a session the way the library does on logout (used by the `subscribe` check when there is no `destroy`). */
  remove?(id: string): Promise<void>;
  /** Mints a fresh id in the store's own form (default: 32 random base64url characters, like uid-safe). */
  newId?(): string;
  /** Tears down what setup made (the adapter's `close` is called by the suite first). */
  teardown?(): Promise<void>;
}

/** What the adapter can do beyond `get`; the suite tests exactly what is declared, and that the rest is absent. */
export interface StoreCapabilities {
  /** `set(id, session)` writes a session that `get` then reads back. */
  set?: boolean;
  /** `destroy(id)` removes a session. */
  destroy?: boolean;
  /** `subscribe(cb)` reports destroyed ids. */
  subscribe?: boolean;
  /**
   * How the store reports an expired session: `"record"` resolves it with a past `expires` (or null);
   * `"null"` resolves null; `false` when `write` cannot express expiry.
   */
  expiry?: "record" | "null" | false;
}

export interface DescribeSessionStoreOptions {
  capabilities?: StoreCapabilities;
  /** Per-test timeout in ms (default 10 000). */
  timeout?: number;
}

const SAMPLE = (): Record<string, unknown> => ({
  cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: "/" },
  user: { id: 42, name: "alice", roles: ["admin", "user"] },
  unicode: "naïve ☃ \u2028",
  nested: { list: [1, "two", { three: 3 }], empty: {}, nothing: null },
});

const randomId = (): string => randomBytes(24).toString("base64url");

/**
 * The conformance suite every store adapter passes. Call it from a vitest test file:
 *
 * ```ts
 * describeSessionStore("my-store", async () => ({ store: myStore(client), write: (id, s) => writeLikeTheLibrary(id, s) }),
 *   { capabilities: { set: true, destroy: true } });
 * ```
 */
export function describeSessionStore<S extends object = Record<string, unknown>>(
  name: string,
  setup: () => StoreHarness<S> | Promise<StoreHarness<S>>,
  options: DescribeSessionStoreOptions = {},
): void {
  const capabilities: Required<StoreCapabilities> = { set: false, destroy: false, subscribe: false, expiry: "record", ...options.capabilities };
  const timeout = options.timeout ?? 10_000;

  describe(`SessionStore conformance: ${name}`, () => {
    let harness: StoreHarness<S>;
    let reports: unknown[];
    const newId = (): string => harness.newId?.() ?? randomId();
    const get = (id: string, signal = new AbortController().signal): Promise<SessionRecord<S> | null> =>
      harness.store.get(id, { signal, report: (cause) => void reports.push(cause) });
    const sample = (): S => SAMPLE() as S;

    beforeEach(async () => {
      harness = await setup();
      reports = [];
    }, timeout);

    afterEach(async () => {
      await harness.store.close?.();
      await harness.teardown?.();
    }, timeout);

    it("has a name", () => {
      expect(typeof harness.store.name).toBe("string");
      expect(harness.store.name.length).toBeGreaterThan(0);
    });

    it("resolves null for an id it has never seen", async () => {
      await expect(get(newId())).resolves.toBeNull();
      expect(reports).toEqual([]);
    }, timeout);

    it("reads back a session as the library wrote it", async () => {
      const id = newId();
      const session = sample();
      await harness.write(id, session);
      const record = await get(id);
      expect(record).not.toBeNull();
      expect(record!.session).toEqual(session);
      if (record!.expires !== undefined && record!.expires !== null) {
        expect(record!.expires).toBeInstanceOf(Date);
        expect(record!.expires.getTime()).toBeGreaterThan(Date.now());
      }
    }, timeout);

    it("keeps sessions apart, ids with dots, colons and unicode included", async () => {
      const ids = [newId(), `${newId()}.with.dots`, `${newId()}:colon`, `${newId()}-ünï☃`];
      await Promise.all(ids.map((id, index) => harness.write(id, { ...sample(), index } as S)));
      const records = await Promise.all(ids.map((id) => get(id)));
      records.forEach((record, index) => expect((record!.session as Record<string, unknown>).index).toBe(index));
      await expect(get(`${ids[0]}x`)).resolves.toBeNull();
    }, timeout);

    it("answers many concurrent lookups correctly", async () => {
      const ids = Array.from({ length: 50 }, newId);
      await Promise.all(ids.map((id, index) => harness.write(id, { ...sample(), index } as S)));
      const records = await Promise.all([...ids, ...ids].map((id) => get(id)));
      records.forEach((record, index) => expect((record!.session as Record<string, unknown>).index).toBe(index % ids.length));
    }, timeout);

    it("takes a session JSON with a __proto__ key without polluting any prototype", async () => {
      const id = newId();
      const session = JSON.parse('{"user":{"id":7},"__proto__":{"polluted":true}}') as S;
      await harness.write(id, session);
      const record = await get(id);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      if (record !== null) expect((record.session as Record<string, unknown>).user).toEqual({ id: 7 });
    }, timeout);

    if (capabilities.expiry !== false) {
      it("does not hand back an expired session as live", async () => {
        const id = newId();
        await harness.write(id, sample(), { expires: new Date(Date.now() - 1000) });
        const record = await get(id);
        if (capabilities.expiry === "null") expect(record).toBeNull();
        else if (record !== null) {
          expect(record.expires).toBeInstanceOf(Date);
          expect(record.expires!.getTime()).toBeLessThanOrEqual(Date.now());
        }
      }, timeout);
    }

    it("resolves null, and reports why, for a session it cannot read", async (context) => {
      if (harness.writeCorrupt === undefined) {
        context.skip();
        return;
      }
      const id = newId();
      await harness.writeCorrupt(id);
      await expect(get(id)).resolves.toBeNull();
      expect(reports.length).toBeGreaterThan(0);
    }, timeout);

    it("rejects, rather than resolving null, when the store itself fails", async (context) => {
      if (harness.breakStore === undefined) {
        context.skip();
        return;
      }
      const id = newId();
      await harness.write(id, sample());
      await harness.breakStore();
      const outcome = await Promise.race([
        get(id).then(
          (record) => `resolved ${record === null ? "null" : "a record"}`,
          () => "rejected",
        ),
        new Promise((resolve) => setTimeout(resolve, timeout / 2, "still waiting")),
      ]);
      expect(outcome).toBe("rejected");
    }, timeout);

    it("settles promptly when handed an already aborted signal", async () => {
      const id = newId();
      await harness.write(id, sample());
      const controller = new AbortController();
      controller.abort(new Error("handshake gave up"));
      const outcome = await Promise.race([
        get(id, controller.signal).then(
          () => "settled",
          () => "settled",
        ),
        new Promise((resolve) => setTimeout(resolve, timeout / 2, "still waiting")),
      ]);
      expect(outcome).toBe("settled");
    }, timeout);

    if (capabilities.set) {
      it("set() writes a session that get() reads back", async () => {
        const id = newId();
        const session = sample();
        await harness.store.set!(id, session);
        expect((await get(id))!.session).toEqual(session);
        const changed = { ...session, changed: true } as S;
        await harness.store.set!(id, changed);
        expect((await get(id))!.session).toEqual(changed);
      }, timeout);
    } else {
      it("declares no set()", () => expect(harness.store.set).toBeUndefined());
    }

    if (capabilities.destroy) {
      it("destroy() removes a session, and is quiet about a missing one", async () => {
        const id = newId();
        await harness.write(id, sample());
        await harness.store.destroy!(id);
        await expect(get(id)).resolves.toBeNull();
        await expect(harness.store.destroy!(newId())).resolves.toBeUndefined();
      }, timeout);
    } else {
      it("declares no destroy()", () => expect(harness.store.destroy).toBeUndefined());
    }

    if (capabilities.subscribe && !capabilities.destroy) {
      // Checked when the suite is declared, so a wrong harness fails loudly rather than hanging.
      it("has a way to remove a session for the subscribe() check", () => expect(typeof harness.remove).toBe("function"));
    }

    if (capabilities.subscribe) {
      it("subscribe() reports a destroyed session, and stops after unsubscribe", async () => {
        const id = newId();
        await harness.write(id, sample());
        const seen: string[] = [];
        let resolveSeen!: () => void;
        const arrived = new Promise<void>((resolve) => (resolveSeen = resolve));
        const unsubscribe = harness.store.subscribe!((destroyed) => {
          seen.push(destroyed);
          if (destroyed === id) resolveSeen();
        });
        const remove = (target: string) => (capabilities.destroy ? harness.store.destroy!(target) : harness.remove!(target));
        await remove(id);
        await arrived;
        unsubscribe();
        expect(seen).toContain(id);
        const later = newId();
        await harness.write(later, sample());
        await remove(later);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(seen).not.toContain(later);
      }, timeout);
    } else {
      it("declares no subscribe()", () => expect(harness.store.subscribe).toBeUndefined());
    }

    it("close() can be called twice", async () => {
      await harness.store.close?.();
      await harness.store.close?.();
    }, timeout);
  });
}
