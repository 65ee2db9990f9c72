import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SessionRecord, StoreGetOptions } from "socket.io-session-auth";
import { cookieStore, type CookieSessionFormat } from "socket.io-session-auth/cookie";

type Session = Record<string, unknown>;

const base64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
const encode = (session: unknown): string => base64(JSON.stringify(session));

/** Calls `get` as the core does and collects what the adapter reported. */
async function read(
  value: string,
  format?: CookieSessionFormat,
): Promise<{ record: SessionRecord<Session> | null; reports: unknown[] }> {
  const reports: unknown[] = [];
  const options: StoreGetOptions = {
    signal: new AbortController().signal,
    report: (cause) => void reports.push(cause),
  };
  const record = await cookieStore<Session>(format === undefined ? undefined : { format }).get(value, options);
  return { record, reports };
}

/** Resolves null and reports exactly one cause of the given kind, whose text never quotes the payload. */
async function expectRefused(value: string, kind: ErrorConstructor, format?: CookieSessionFormat): Promise<Error> {
  const { record, reports } = await read(value, format);
  expect(record).toBeNull();
  expect(reports).toHaveLength(1);
  const cause = reports[0] as Error;
  expect(cause).toBeInstanceOf(kind);
  // The value is the session (and, for cookie sessions, the bearer token): never quoted back.
  if (value.length >= 8) expect(cause.message).not.toContain(value.slice(0, 12));
  return cause;
}

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();
function expectPrototypesUntouched(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS);
  expect(Object.getOwnPropertyNames(Array.prototype)).not.toContain("polluted");
  expect(({} as Session).polluted).toBeUndefined();
  expect(({} as Session).isAdmin).toBeUndefined();
}

describe("cookieStore() options", () => {
  it("defaults to the cookie-session format and names itself after it", () => {
    expect(cookieStore().name).toBe("cookie (cookie-session)");
    expect(cookieStore({}).name).toBe("cookie (cookie-session)");
    expect(cookieStore({ format: undefined }).name).toBe("cookie (cookie-session)");
    expect(cookieStore({ format: "connect" }).name).toBe("cookie (connect)");
  });

  it("throws a TypeError naming the option for a wrong format", () => {
    expect(() => cookieStore({ format: "koa" as CookieSessionFormat })).toThrow(
      /`format` must be one of "cookie-session", "connect"; got "koa"/,
    );
    expect(() => cookieStore({ format: null as unknown as CookieSessionFormat })).toThrow(TypeError);
    expect(() => cookieStore("connect" as never)).toThrow(/pass an options object/);
    expect(() => cookieStore(null as never)).toThrow(TypeError);
  });

  it("refuses a store or a driver given as the options, saying what it is", async () => {
    const session = (await import("express-session")).default;
    const { Redis } = await import("ioredis");
    const client = new Redis({ lazyConnect: true });
    try {
      expect(() => cookieStore(new session.MemoryStore() as never)).toThrow(
        /the options are an express-session store \(MemoryStore\); cookie sessions .* need no store/,
      );
      expect(() => cookieStore(client as never)).toThrow(/the options are an ioredis client/);
      expect(() => cookieStore(Promise.resolve({}) as never)).toThrow(/the options are a promise/);
    } finally {
      client.disconnect();
    }
  });

  it("rejects unknown options, and points signing options to sessionAuth", () => {
    expect(() => cookieStore({ keys: ["k"] } as never)).toThrow(/unknown option `keys`.*belongs to sessionAuth/);
    expect(() => cookieStore({ name: "session" } as never)).toThrow(/`name` belongs to sessionAuth/);
    expect(() => cookieStore({ ttl: 5 } as never)).toThrow(/^cookieStore: unknown option `ttl`\.$/);
  });

  it("has no set, destroy or subscribe: the browser holds the only copy", () => {
    for (const format of ["cookie-session", "connect"] as const) {
      const store = cookieStore({ format });
      expect((store as unknown as Record<string, unknown>).set).toBeUndefined();
      expect((store as unknown as Record<string, unknown>).destroy).toBeUndefined();
      expect(store.subscribe).toBeUndefined();
      expect(store.close).toBeUndefined();
    }
  });
});

describe('format "cookie-session"', () => {
  it("decodes cookie-session's base64 JSON, with no expiry", async () => {
    const session = { user: { id: 42, name: "alice", roles: ["admin", "user"] }, unicode: "naïve ☃ \u2028" };
    const { record, reports } = await read(encode(session));
    expect(record).toEqual({ session, expires: null });
    expect(reports).toEqual([]);
  });

  it("turns koa-session's _expire into expires and hides its bookkeeping", async () => {
    const expire = Date.now() + 3_600_000;
    const { record } = await read(encode({ user: { id: 1 }, _expire: expire, _maxAge: 3_600_000 }));
    expect(record!.expires).toEqual(new Date(expire));
    expect(record!.session).toEqual({ user: { id: 1 } });
    expect(Object.keys(record!.session)).toEqual(["user"]);
  });

  it("hands a past _expire on as a past expires (the core answers SESSION_EXPIRED)", async () => {
    const { record } = await read(encode({ user: { id: 1 }, _expire: Date.now() - 1000, _maxAge: 10 }));
    expect(record!.expires!.getTime()).toBeLessThan(Date.now());
  });

  it("drops koa-session's _session flag (maxAge: 'session') and reports no expiry", async () => {
    const { record } = await read(encode({ user: { id: 1 }, _session: true }));
    expect(record).toEqual({ session: { user: { id: 1 } }, expires: null });
  });

  it("keeps an app's own underscore keys", async () => {
    const { record } = await read(encode({ user: { id: 1 }, _csrf: "t" }));
    expect(record!.session).toEqual({ user: { id: 1 }, _csrf: "t" });
  });

  it.each([
    ["a string", "soon"],
    ["null", null],
    ["NaN-like huge", 1e300],
    ["an object", { at: 1 }],
  ])("refuses an _expire that is %s", async (_label, expire) => {
    const cause = await expectRefused(encode({ user: { id: 1 }, _expire: expire }), TypeError);
    expect(cause.message).toContain("_expire");
  });

  it("reads unpadded and URL-safe base64 too (what a custom koa encode may write)", async () => {
    const session = { user: { id: 7, note: "??>>" } };
    const standard = encode(session);
    const urlSafe = Buffer.from(JSON.stringify(session)).toString("base64url");
    expect(urlSafe).not.toBe(standard.replace(/=+$/, ""));
    expect((await read(standard.replace(/=+$/, ""))).record!.session).toEqual(session);
    expect((await read(urlSafe)).record!.session).toEqual(session);
  });

  it.each([
    ["characters outside base64", "eyJ1c2VyIjoxfQ==;", SyntaxError],
    ["a percent-encoded value", "eyJ1c2VyIjoxfQ%3D%3D", SyntaxError],
    ["padding in the middle", "eyJ1=c2VyIjoxfQ==", SyntaxError],
    ["a padded value of the wrong length", "eyJ1c2VyIjoxfQ=", SyntaxError],
    ["an impossible length", "eyJ1c", SyntaxError],
    ["Connect's j: JSON", 'j:{"user":1}', SyntaxError],
    ["an express-session id", "RnUR71TLHdXwSpKnNia2gRrPvT08Ktf-", SyntaxError],
    ["koa-session's external-store key (a UUID)", "cfcf1e79-a9b0-4f55-8db9-4321ba178c6b", SyntaxError],
    ["bytes that are not UTF-8", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64"), SyntaxError],
    ["base64 of text that is not JSON", base64("{user: 1}"), SyntaxError],
    ["truncated JSON", encode({ user: { id: 1 } }).slice(0, 12), SyntaxError],
    ["a JSON array", encode([{ user: 1 }]), TypeError],
    ["a JSON string", encode("user"), TypeError],
    ["a JSON number", encode(42), TypeError],
    ["JSON null", encode(null), TypeError],
    ["JSON true", encode(true), TypeError],
  ])("resolves null and reports why for %s", async (_label, value, kind) => {
    await expectRefused(value, kind as ErrorConstructor);
  });

  it("refuses nesting deeper than 100 levels instead of handing downstream code a stack overflow", async () => {
    const deep = (levels: number): string => '{"a":'.repeat(levels) + "1" + "}".repeat(levels);
    expect((await read(base64(deep(99)))).record).not.toBeNull();
    const cause = await expectRefused(base64(deep(5000)), RangeError);
    expect(cause.message).toContain("100 levels");
    await expectRefused(base64(`{"a":${"[".repeat(3000)}${"]".repeat(3000)}}`), RangeError);
  });

  it("reads an 8 KiB cookie whole", async () => {
    const session = { user: { id: 3 }, notes: "x".repeat(6200) };
    const value = encode(session);
    expect(value.length).toBeGreaterThanOrEqual(8192);
    const { record, reports } = await read(value);
    expect(record!.session).toEqual(session);
    expect(reports).toEqual([]);
  });

  it("drops __proto__ keys at every depth: no pollution, no inherited surprises", async () => {
    const json =
      '{"user":{"id":7,"__proto__":{"isAdmin":true}},"__proto__":{"polluted":true},"list":[{"__proto__":{"polluted":1}}]}';
    const { record, reports } = await read(base64(json));
    expect(reports).toEqual([]);
    const session = record!.session;
    expect(Object.getPrototypeOf(session)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(session.user)).toBe(Object.prototype);
    expect(Object.keys(session)).toEqual(["user", "list"]);
    expect(Object.hasOwn(session, "__proto__")).toBe(false);
    expect(Object.hasOwn(session.user as object, "__proto__")).toBe(false);
    expect(session.user).toEqual({ id: 7 });
    expect((session.user as Session).isAdmin).toBeUndefined();
    expect(session.polluted).toBeUndefined();
    // What an app might do next with the session: neither of these may reach a prototype.
    const merged = Object.assign({}, session, session.user as object) as Session;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(merged.isAdmin).toBeUndefined();
    expectPrototypesUntouched();
  });

  it("drops a constructor object holding a prototype (the deep-merge gadget), and keeps a plain constructor value", async () => {
    const { record } = await read(
      base64('{"user":{"id":1},"constructor":{"prototype":{"polluted":true}},"car":{"constructor":"Ford"}}'),
    );
    expect(record!.session).toEqual({ user: { id: 1 }, car: { constructor: "Ford" } });
    expect(record!.session.constructor).toBe(Object);
    expectPrototypesUntouched();
  });
});

describe('format "connect"', () => {
  it("reads Connect's j:-JSON with no expiry", async () => {
    const session = { user: { id: 42 }, flash: [] };
    const { record, reports } = await read(`j:${JSON.stringify(session)}`, "connect");
    expect(record).toEqual({ session, expires: null });
    expect(reports).toEqual([]);
  });

  it("leaves underscore keys alone: Connect had no koa bookkeeping", async () => {
    const { record } = await read('j:{"user":1,"_expire":1}', "connect");
    expect(record).toEqual({ session: { user: 1, _expire: 1 }, expires: null });
  });

  it.each([
    ["no j: prefix (an express-session id)", "RnUR71TLHdXwSpKnNia2gRrPvT08Ktf-", SyntaxError],
    ["a cookie-session value", encode({ user: 1 }), SyntaxError],
    ["bad JSON after j:", "j:{user:1}", SyntaxError],
    ["an empty j:", "j:", SyntaxError],
    ["a j: array", "j:[1,2]", TypeError],
    ["a j: string", 'j:"user"', TypeError],
    ["j:null", "j:null", TypeError],
  ])("resolves null and reports why for %s", async (_label, value, kind) => {
    await expectRefused(value, kind as ErrorConstructor, "connect");
  });

  it("points an express-session id at the server-side stores", async () => {
    const cause = await expectRefused("RnUR71TLHdXwSpKnNia2gRrPvT08Ktf-", SyntaxError, "connect");
    expect(cause.message).toMatch(/memory, redis or mongo store/);
  });

  it("drops __proto__ keys", async () => {
    const { record } = await read('j:{"user":{"id":1},"__proto__":{"polluted":true}}', "connect");
    expect(record!.session).toEqual({ user: { id: 1 } });
    expect(Object.hasOwn(record!.session, "__proto__")).toBe(false);
    expectPrototypesUntouched();
  });
});

describe("the decoder under arbitrary input (fast-check)", () => {
  // Everything a signed cookie could carry, and much that it could not: the adapter must answer every one
  // with a record or with null-after-report, never throw, never touch a prototype.
  const hostileKeys = fc.constantFrom(
    "__proto__",
    "constructor",
    "prototype",
    "_expire",
    "_maxAge",
    "_session",
    "toString",
    "user",
  );
  const hostileJson = fc.oneof(
    fc.json(),
    fc.dictionary(fc.oneof(fc.string(), hostileKeys), fc.jsonValue()).map((o) => JSON.stringify(o)),
    fc
      .tuple(hostileKeys, fc.jsonValue())
      .map(([key, value]) => `{${JSON.stringify(key)}:{"polluted":true,"v":${JSON.stringify(value)}}}`),
  );
  const cookieValues = fc.oneof(
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes).toString("base64")),
    fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes).toString("base64url")),
    hostileJson.map(base64),
    hostileJson.map((json) => `j:${json}`),
    hostileJson,
  );

  for (const format of ["cookie-session", "connect"] as const) {
    it(`never throws, never pollutes, and answers a plain object or null-after-report (${format})`, async () => {
      await fc.assert(
        fc.asyncProperty(cookieValues, async (value) => {
          const { record, reports } = await read(value, format);
          if (record === null) {
            expect(reports).toHaveLength(1);
            expect(reports[0]).toBeInstanceOf(Error);
            if (value.length >= 16) expect((reports[0] as Error).message).not.toContain(value);
          } else {
            expect(reports).toEqual([]);
            expect(Object.getPrototypeOf(record.session)).toBe(Object.prototype);
            expect(Object.hasOwn(record.session, "__proto__")).toBe(false);
            expect(
              record.expires === null || (record.expires instanceof Date && !Number.isNaN(record.expires.getTime())),
            ).toBe(true);
            if (format === "cookie-session") {
              for (const key of ["_expire", "_maxAge", "_session"])
                expect(Object.hasOwn(record.session, key)).toBe(false);
            }
          }
          expectPrototypesUntouched();
        }),
        { numRuns: 600 },
      );
    });
  }
});
