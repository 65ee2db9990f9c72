import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { SessionRecord, SessionStore } from "../store.js";
import { rejectUnknownOptions } from "../internal/options.js";
import { resolveRunner, skipTest, type TestRunner } from "./runner.js";

// No test runner is imported here: `signSessionCookie` must load in a CommonJS script with no runner
// installed, and the suite declares its tests with whichever runner the caller uses.
export { signSessionCookie } from "../cookies.js";
export type { SignCookieOptions } from "../cookies.js";
export type { TestRunner } from "./runner.js";

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
  /** Deletes a session the way the library does on logout (needed by the `subscribe` check). */
  remove?(id: string): Promise<void>;
  /** Mints a fresh id in the store's own form (default: 32 random base64url characters, like uid-safe). */
  newId?(): string;
  /** Tears down what setup made (the adapter's `close` is called by the suite first). */
  teardown?(): Promise<void>;
}

/**
 * What the adapter can do beyond `get`; the suite tests exactly what is declared. `subscribe` left
 * undeclared must also be absent; `compareAndSet` and `expires` left undeclared are
 * not checked (the tests for them are skipped, so a store that gains them later does not fail).
 */
export interface StoreCapabilities {
  /** `subscribe(cb)` calls back with the id of a destroyed session, and stops after unsubscribe. */
  subscribe?: boolean;
  /**
   * How the store reports an expired session: `"record"` resolves it with a past `expires` (or null);
   * `"null"` resolves null; `false` when `write` cannot express expiry.
   */
  expiry?: "record" | "null" | false;
  /**
   * `get` reports the expiry `write` was given as `record.expires`, a `Date` (within a second: stores
   * keep seconds, TTLs round).
   */
  expires?: boolean;
  /**
   * `compareAndSet(id, revision, session, { signal })`, the write-back behind `auth.update()`: `true` on
   * the revision just read, and the write is then what a fresh `get` sees; `false` once another write
   * came in between, and for a missing id; the stored expiry kept as it was.
   */
  compareAndSet?: boolean;
}

export interface DescribeSessionStoreOptions {
  capabilities?: StoreCapabilities;
  /** Per-test and per-hook timeout in ms (default 10 000); the suite also bounds its own waits by it. */
  timeout?: number;
  /**
   * The test runner to declare the tests with. Default: the runner's globals (Jest, Mocha, Vitest with
   * `globals: true`), else Vitest's own API in a Vitest worker. node:test users pass
   * `import * as nodeTest from "node:test"`.
   */
  runner?: TestRunner;
}

const SAMPLE = (): Record<string, unknown> => ({
  cookie: {
    originalMaxAge: 3_600_000,
    expires: new Date(Date.now() + 3_600_000).toISOString(),
    httpOnly: true,
    path: "/",
  },
  user: { id: 42, name: "alice", roles: ["admin", "user"] },
  unicode: "naïve ☃ \u2028",
  nested: { list: [1, "two", { three: 3 }], empty: {}, nothing: null },
});

const randomId = (): string => randomBytes(24).toString("base64url");

/** Sessions travel as JSON in every store library: compare them as JSON, whatever prototype the adapter built. */
const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const sameSession = (actual: unknown, expected: unknown, message?: string) =>
  assert.deepStrictEqual(json(actual), json(expected), message);

const KNOWN_CAPABILITIES = new Set(["subscribe", "expiry", "expires", "compareAndSet"]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with what `pending` settled to, or "still waiting" after `ms`: a hang becomes a failed assertion, not a stuck run. */
function within<T>(pending: Promise<T>, ms: number): Promise<T | "still waiting"> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    pending,
    new Promise<"still waiting">((resolve) => (timer = setTimeout(resolve, ms, "still waiting"))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The conformance suite every store adapter passes, declared with any test runner.
 *
 * ```ts
 * // Vitest (or Jest, Mocha: their globals are found)
 * describeSessionStore("my-store", async () => ({ store: myStore(client), write: (id, s) => writeLikeTheLibrary(id, s) }),
 *   { capabilities: { compareAndSet: true } });
 * // node:test
 * import * as nodeTest from "node:test";
 * describeSessionStore("my-store", setup, { runner: nodeTest });
 * ```
 *
 * `setup` runs before every test and returns a fresh harness. Throws a `TypeError` at once when no
 * runner is given or found, or when `runner` lacks describe, it, beforeEach or afterEach.
 */
export function describeSessionStore<S extends object = Record<string, unknown>>(
  name: string,
  setup: () => StoreHarness<S> | Promise<StoreHarness<S>>,
  options: DescribeSessionStoreOptions = {},
): void {
  if (options.capabilities !== undefined)
    rejectUnknownOptions("describeSessionStore: capabilities", options.capabilities, KNOWN_CAPABILITIES, {
      removed: Object.fromEntries(
        ["set", "destroy"].map((name) => [
          name,
          `the store contract has no \`${name}\` any more (writes go through compareAndSet). Drop it; give the harness remove(id) for the subscribe check.`,
        ]),
      ),
    });
  const capabilities: Required<StoreCapabilities> = {
    subscribe: false,
    expiry: "record",
    expires: false,
    compareAndSet: false,
    ...options.capabilities,
  };
  const timeout = options.timeout ?? 10_000;
  const { describe, it: declare, beforeEach, afterEach } = resolveRunner(options.runner);

  /**
   * A test body as every runner can call it: no declared parameter (Jest and Mocha would take one as a
   * `done` callback), the context (Vitest, node:test) read from `arguments`, `this` kept for Mocha.
   */
  type Body = (skip: (reason: string) => void) => unknown;
  const it = (title: string, body: Body) =>
    declare(
      title,
      function (this: unknown, ...args: unknown[]) {
        return body((reason) => skipTest(this, args[0], reason)) as void | Promise<void>;
      },
      timeout,
    );

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
      assert.equal(typeof harness.store.name, "string");
      assert.ok(harness.store.name.length > 0, "an empty name");
    });

    it("resolves null for an id it has never seen", async () => {
      assert.equal(await get(newId()), null);
      assert.deepEqual(reports, []);
    });

    it("reads back a session as the library wrote it", async () => {
      const id = newId();
      const session = sample();
      await harness.write(id, session);
      const record = await get(id);
      assert.ok(record !== null, "get() resolved null for a session just written");
      sameSession(record.session, session);
      if (record.expires !== undefined && record.expires !== null) {
        assert.ok(record.expires instanceof Date, "expires must be a Date");
        assert.ok(record.expires.getTime() > Date.now(), "a live session reported as already expired");
      }
    });

    it("keeps sessions apart, ids with dots, colons and unicode included", async () => {
      const ids = [newId(), `${newId()}.with.dots`, `${newId()}:colon`, `${newId()}-ünï☃`];
      await Promise.all(ids.map((id, index) => harness.write(id, { ...sample(), index } as S)));
      const records = await Promise.all(ids.map((id) => get(id)));
      records.forEach((record, index) =>
        assert.equal(
          (record?.session as Record<string, unknown> | undefined)?.index,
          index,
          `session of ${ids[index]}`,
        ),
      );
      assert.equal(await get(`${ids[0]}x`), null);
    });

    it("answers many concurrent lookups correctly", async () => {
      const ids = Array.from({ length: 50 }, newId);
      await Promise.all(ids.map((id, index) => harness.write(id, { ...sample(), index } as S)));
      const records = await Promise.all([...ids, ...ids].map((id) => get(id)));
      records.forEach((record, index) =>
        assert.equal((record?.session as Record<string, unknown> | undefined)?.index, index % ids.length),
      );
    });

    it("takes a session JSON with a __proto__ key without polluting any prototype", async () => {
      const id = newId();
      const session = JSON.parse('{"user":{"id":7},"__proto__":{"polluted":true}}') as S;
      await harness.write(id, session);
      const record = await get(id);
      assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype was polluted");
      if (record !== null) sameSession((record.session as Record<string, unknown>).user, { id: 7 });
    });

    if (capabilities.expiry !== false) {
      it("does not hand back an expired session as live", async () => {
        const id = newId();
        await harness.write(id, sample(), { expires: new Date(Date.now() - 1000) });
        const record = await get(id);
        if (capabilities.expiry === "null") assert.equal(record, null);
        else if (record !== null) {
          assert.ok(record.expires instanceof Date, "an expired session must come back with its expires, a Date");
          assert.ok(record.expires.getTime() <= Date.now(), "an expired session reported with a future expires");
        }
      });
    }

    if (capabilities.expires) {
      it("reports the expiry the library wrote, as a Date", async () => {
        const id = newId();
        const expires = new Date(Date.now() + 3_600_000);
        await harness.write(id, sample(), { expires });
        const record = await get(id);
        assert.ok(record !== null, "get() resolved null for a session just written");
        assert.ok(record.expires instanceof Date, "expires must be a Date");
        assert.ok(
          Math.abs(record.expires.getTime() - expires.getTime()) <= 1000,
          `expires ${record.expires.toISOString()}, written ${expires.toISOString()}`,
        );
      });
    }

    it("resolves null, and reports why, for a session it cannot read", async (skip) => {
      if (harness.writeCorrupt === undefined) return skip("the harness has no writeCorrupt");
      const id = newId();
      await harness.writeCorrupt(id);
      assert.equal(await get(id), null);
      assert.ok(reports.length > 0, "report(cause) was not called");
    });

    it("rejects, rather than resolving null, when the store itself fails", async (skip) => {
      if (harness.breakStore === undefined) return skip("the harness has no breakStore");
      const id = newId();
      await harness.write(id, sample());
      await harness.breakStore();
      const outcome = await within(
        get(id).then(
          (record) => `resolved ${record === null ? "null" : "a record"}`,
          () => "rejected",
        ),
        timeout / 2,
      );
      assert.equal(outcome, "rejected");
    });

    it("settles promptly when handed an already aborted signal", async () => {
      const id = newId();
      await harness.write(id, sample());
      const controller = new AbortController();
      controller.abort(new Error("handshake gave up"));
      const outcome = await within(
        get(id, controller.signal).then(
          () => "settled",
          () => "settled",
        ),
        timeout / 2,
      );
      assert.equal(outcome, "settled");
    });

    if (capabilities.subscribe) {
      // Checked when the suite is declared, so a wrong harness fails loudly rather than hanging.
      it("has a way to remove a session for the subscribe() check", () =>
        assert.equal(typeof harness.remove, "function"));
    }

    if (capabilities.subscribe) {
      it("subscribe() calls back with the id of a destroyed session, and stops after unsubscribe", async () => {
        const id = newId();
        await harness.write(id, sample());
        const seen: string[] = [];
        let resolveSeen!: () => void;
        const arrived = new Promise<void>((resolve) => (resolveSeen = resolve));
        const unsubscribe = harness.store.subscribe!((destroyed) => {
          seen.push(destroyed);
          if (destroyed === id) resolveSeen();
        });
        const remove = (target: string) => harness.remove!(target);
        await remove(id);
        const outcome = await within(arrived, timeout / 2);
        unsubscribe();
        assert.notEqual(outcome, "still waiting", "subscribe() never called back for the destroyed session");
        assert.ok(seen.includes(id));
        const later = newId();
        await harness.write(later, sample());
        await remove(later);
        await sleep(200);
        assert.ok(!seen.includes(later), "subscribe() called back after unsubscribe");
      });
    } else {
      it("declares no subscribe()", () => assert.equal(harness.store.subscribe, undefined));
    }

    if (capabilities.compareAndSet) {
      const cas = (id: string, revision: unknown, session: S) =>
        harness.store.compareAndSet!(id, revision, session, { signal: new AbortController().signal });

      it("compareAndSet() writes on the revision just read, and a fresh get() sees the write", async () => {
        assert.equal(typeof harness.store.compareAndSet, "function");
        const id = newId();
        await harness.write(id, sample());
        const read = await get(id);
        assert.ok(read !== null, "get() resolved null for a session just written");
        const changed = { ...read.session, cart: ["book"] } as S;
        assert.equal(await cas(id, read.revision, changed), true);
        sameSession((await get(id))?.session, changed);
      });

      it("compareAndSet() refuses once another write came in between", async () => {
        const id = newId();
        await harness.write(id, sample());
        const read = await get(id);
        assert.ok(read !== null, "get() resolved null for a session just written");
        const other = { ...sample(), writer: "the web app" } as S;
        await harness.write(id, other);
        assert.equal(await cas(id, read.revision, { ...read.session, writer: "a socket" } as S), false);
        sameSession((await get(id))?.session, other, "the refused write must leave the other write in place");
      });

      it("compareAndSet() refuses a missing id, and does not create it", async () => {
        const id = newId();
        await harness.write(id, sample());
        const read = await get(id);
        assert.ok(read !== null, "get() resolved null for a session just written");
        const missing = newId();
        assert.equal(await cas(missing, read.revision, read.session), false);
        assert.equal(await get(missing), null);
      });

      it("compareAndSet() keeps the stored expiry", async (skip) => {
        if (capabilities.expiry === false) return skip("write cannot express expiry");
        const id = newId();
        const expires = new Date(Date.now() + 60_000);
        await harness.write(id, sample(), { expires });
        const before = await get(id);
        assert.ok(before !== null, "get() resolved null for a session just written");
        assert.equal(await cas(id, before.revision, { ...before.session, touched: true } as S), true);
        const after = await get(id);
        assert.ok(after !== null, "the session is gone after compareAndSet()");
        if (before.expires instanceof Date) {
          assert.ok(after.expires instanceof Date, "compareAndSet() dropped the expiry");
          assert.ok(
            Math.abs(after.expires.getTime() - before.expires.getTime()) <= 1000,
            "compareAndSet() moved the expiry",
          );
        }
      });
    }

    it("close() can be called twice", async () => {
      await harness.store.close?.();
      await harness.store.close?.();
    });
  });
}
