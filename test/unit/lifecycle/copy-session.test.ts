import { describe, expect, it } from "vitest";
import { copySession } from "socket.io-session-auth/adapter";
import { copyJsonSession, isJsonRecord } from "../../../src/copy.js";

// copySession gives every socket a session of its own (issue 22: one copy per socket, made by a spread
// of each plain object, which keeps its shape). What it must keep and what it must not share.

describe("copySession", () => {
  it("copies every plain object and array: nothing of the copy is shared with the original", () => {
    const original = {
      cookie: { originalMaxAge: 3_600_000, expires: "2027-01-01T00:00:00.000Z", httpOnly: true, path: "/" },
      user: { id: 7, roles: ["admin", { scope: "billing" }] },
      flash: null,
    };
    const copy = copySession(original);
    expect(copy).toEqual(original);
    expect(copy).not.toBe(original);
    expect(copy.cookie).not.toBe(original.cookie);
    expect(copy.user).not.toBe(original.user);
    expect(copy.user.roles).not.toBe(original.user.roles);
    expect(copy.user.roles[1]).not.toBe(original.user.roles[1]);
    copy.user.id = 8;
    (copy.user.roles[1] as { scope: string }).scope = "all";
    copy.cookie.path = "/changed";
    expect(original.user.id).toBe(7);
    expect(original.user.roles[1]).toEqual({ scope: "billing" });
    expect(original.cookie.path).toBe("/");
  });

  it("keeps an own `__proto__` key (JSON.parse makes them) as an own key, never as the prototype", () => {
    const original = JSON.parse('{"__proto__": {"isAdmin": true}, "user": {"__proto__": {"id": 1}}}') as Record<
      string,
      unknown
    >;
    const copy = copySession(original);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(["__proto__", "user"]);
    expect((copy as { isAdmin?: unknown }).isAdmin).toBeUndefined();
    const own = Object.getOwnPropertyDescriptor(copy, "__proto__")!.value as object;
    expect(own).toEqual({ isAdmin: true });
    expect(own).not.toBe(Object.getOwnPropertyDescriptor(original, "__proto__")!.value);
    const user = copy.user as object;
    expect(Object.getPrototypeOf(user)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(user, "__proto__")!.value).toEqual({ id: 1 });
  });

  it("copies Dates and byte arrays, keeps null-prototype objects so, and shares other class instances", () => {
    class ObjectIdLike {
      constructor(readonly hex: string) {}
    }
    const id = new ObjectIdLike("65f0c0ffee");
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: { b: 1 } });
    const original = { at: new Date(1_700_000_000_000), bytes: new Uint8Array([1, 2, 3]), id, bare };
    const copy = copySession(original);
    expect(copy.at).toBeInstanceOf(Date);
    expect(copy.at).not.toBe(original.at);
    expect(copy.at.getTime()).toBe(1_700_000_000_000);
    expect(copy.bytes).not.toBe(original.bytes);
    expect([...copy.bytes]).toEqual([1, 2, 3]);
    copy.bytes[0] = 9;
    expect(original.bytes[0]).toBe(1);
    expect(copy.id).toBe(id);
    expect(Object.getPrototypeOf(copy.bare)).toBeNull();
    expect(copy.bare).not.toBe(bare);
    expect(copy.bare.a).toEqual({ b: 1 });
    expect(copy.bare.a).not.toBe(bare.a);
  });

  it("carries no symbol-keyed property (nor shares what one holds), on the tree path and the cyclic one alike", () => {
    const mark = Symbol("store-internal");
    const inner = { secret: 1 };
    const tree = { user: { id: 1 }, [mark]: inner };
    const copy = copySession(tree);
    expect(Object.getOwnPropertySymbols(copy)).toEqual([]);
    expect(copy.user).toEqual({ id: 1 });
    const cyclic: Record<string | symbol, unknown> = { [mark]: inner };
    cyclic.self = cyclic;
    expect(Object.getOwnPropertySymbols(copySession(cyclic))).toEqual([]);
  });

  it("keeps cycles as cycles, and an object reached twice shared in the copy only when there is a cycle", () => {
    const shared = { n: 1 };
    const tree = { left: shared, right: shared };
    const treeCopy = copySession(tree);
    expect(treeCopy.left).toEqual(shared);
    expect(treeCopy.left).not.toBe(shared);
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const cyclicCopy = copySession(cyclic);
    expect(cyclicCopy).not.toBe(cyclic);
    expect(cyclicCopy.self).toBe(cyclicCopy);
  });
});

// The core's copy of a session an adapter of this package marked as JSON data made for the read
// (memoryStore, redisStore with JSON): copySession without the search for symbol keys (issue 22).
describe("copyJsonSession", () => {
  it("copies JSON data as copySession does: equal, nothing shared, an own `__proto__` kept as a key", () => {
    const text =
      '{"cookie":{"originalMaxAge":60000,"expires":"2027-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},' +
      '"user":{"id":7,"roles":["admin",{"scope":"billing"}]},"flash":null,"__proto__":{"isAdmin":true}}';
    const original = JSON.parse(text) as Record<string, unknown>;
    const copy = copyJsonSession(original);
    expect(copy).toEqual(copySession(original));
    expect(JSON.stringify(copy)).toBe(text);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { isAdmin?: unknown }).isAdmin).toBeUndefined();
    const user = copy.user as { id: number; roles: [string, { scope: string }] };
    expect(user).not.toBe(original.user);
    expect(user.roles).not.toBe((original.user as typeof user).roles);
    user.roles[1].scope = "all";
    expect((original.user as typeof user).roles[1].scope).toBe("billing");
    expect(Object.getOwnPropertyDescriptor(copy, "__proto__")!.value).not.toBe(
      Object.getOwnPropertyDescriptor(original, "__proto__")!.value,
    );
  });

  it("hands anything that is not JSON data to copySession: a Date, a class instance, a null prototype, depth past 64", () => {
    class ObjectIdLike {
      constructor(readonly hex: string) {}
    }
    const id = new ObjectIdLike("65f0c0ffee");
    const withDate = { user: { at: new Date(1_700_000_000_000) } };
    expect(copyJsonSession(withDate).user.at).toBeInstanceOf(Date);
    expect(copyJsonSession(withDate).user.at).not.toBe(withDate.user.at);
    expect(copyJsonSession({ user: { id } }).user.id).toBe(id);
    const bare = { user: Object.assign(Object.create(null) as Record<string, unknown>, { a: { b: 1 } }) };
    expect(Object.getPrototypeOf(copyJsonSession(bare).user)).toBeNull();
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 100; i++) deep = { next: deep };
    const copy = copyJsonSession(deep);
    expect(copy).toEqual(deep);
    expect(copy.next).not.toBe(deep.next);
  });

  it("copies a marked read only: records are marked on their prototype, so a wrapper's spread is not", () => {
    const marked = Symbol.for("socket.io-session-auth.jsonRecord");
    class Record_ {
      constructor(readonly session: object) {}
    }
    (Record_.prototype as unknown as Record<symbol, boolean>)[marked] = true;
    const record = new Record_({ user: { id: 1 } });
    expect(isJsonRecord(record)).toBe(true);
    expect(isJsonRecord({ ...record })).toBe(false);
    expect(isJsonRecord({ session: {} })).toBe(false);
  });
});
