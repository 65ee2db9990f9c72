import { Binary, ObjectId, type Document } from "bson";
import { describe, expect, it } from "vitest";
import {
  applyUpdate,
  CommandError,
  compare,
  matches,
  project,
  seedFromFilter,
  valueAt,
} from "../../support/mongo-server/query.js";
import {
  decodeReply,
  decodeRequest,
  encodeMsgRequest,
  encodeReply,
  FrameReader,
  OP_MSG,
  OP_QUERY,
  ProtocolError,
} from "../../support/mongo-server/wire.js";

// The test server's query language: what connect-mongo's get() and our adapter rely on, with MongoDB's
// semantics where they are surprising. Where it matters, each case says what mongod answers.

const now = new Date("2030-01-01T00:00:00Z");
const later = new Date("2030-01-02T00:00:00Z");
const earlier = new Date("2029-12-31T00:00:00Z");

// connect-mongo's get(): findOne({ _id, $or: [{ expires: { $exists: false } }, { expires: { $gt: new Date() } }] })
const connectMongoGet = (sid: string): Document => ({
  _id: sid,
  $or: [{ expires: { $exists: false } }, { expires: { $gt: now } }],
});

describe("matches", () => {
  it("connect-mongo's get filter: live, without expires, expired, another id", () => {
    expect(matches({ _id: "a", expires: later }, connectMongoGet("a"))).toBe(true);
    expect(matches({ _id: "a" }, connectMongoGet("a"))).toBe(true);
    expect(matches({ _id: "a", expires: earlier }, connectMongoGet("a"))).toBe(false);
    expect(matches({ _id: "a", expires: now }, connectMongoGet("a"))).toBe(false); // $gt is strict
    expect(matches({ _id: "b", expires: later }, connectMongoGet("a"))).toBe(false);
  });

  it("compares only within a type bracket: a string or null `expires` is never $gt a date", () => {
    expect(matches({ expires: "2999-01-01" }, { expires: { $gt: now } })).toBe(false);
    expect(matches({ expires: null }, { expires: { $gt: now } })).toBe(false);
    expect(matches({ expires: 5 }, { expires: { $lt: now } })).toBe(false);
    expect(matches({ n: 5 }, { n: { $gt: 4.5, $lte: 5 } })).toBe(true);
  });

  it("$exists counts a null field as present; a null condition matches null and missing alike", () => {
    expect(matches({ expires: null }, { expires: { $exists: true } })).toBe(true);
    expect(matches({}, { expires: { $exists: false } })).toBe(true);
    expect(matches({}, { expires: null })).toBe(true);
    expect(matches({ expires: null }, { expires: null })).toBe(true);
    expect(matches({ expires: now }, { expires: null })).toBe(false);
    expect(matches({}, { expires: { $ne: null } })).toBe(false);
  });

  it("equality is type-aware: the string '1' is not the number 1, an ObjectId equals its copy", () => {
    const id = new ObjectId();
    expect(matches({ _id: "1" }, { _id: 1 })).toBe(false);
    expect(matches({ _id: id }, { _id: new ObjectId(id.toHexString()) })).toBe(true);
    expect(matches({ _id: id }, { _id: id.toHexString() })).toBe(false);
    expect(matches({ d: new Date(now) }, { d: now })).toBe(true);
    expect(matches({ b: new Binary(Buffer.from("x")) }, { b: new Binary(Buffer.from("x")) })).toBe(true);
  });

  it("compares documents as wholes, key order included (as mongod does)", () => {
    expect(matches({ s: { a: 1, b: 2 } }, { s: { a: 1, b: 2 } })).toBe(true);
    expect(matches({ s: { a: 1, b: 2 } }, { s: { b: 2, a: 1 } })).toBe(false);
  });

  it("the adapter's compareAndSet filter: _id and the session field exactly as read (dates, nulls, arrays)", () => {
    const stored = {
      cookie: { originalMaxAge: 60_000, expires: now, secure: null, path: "/" },
      items: [1, 2],
      user: { id: 42 },
    };
    const document = { _id: "sid", session: stored, expires: later };
    expect(
      matches(document, {
        _id: "sid",
        session: {
          cookie: { originalMaxAge: 60_000, expires: new Date(now), secure: null, path: "/" },
          items: [1, 2],
          user: { id: 42 },
        },
      }),
    ).toBe(true);
    // Any change in between, even one the web app would not notice, makes the write miss.
    expect(matches(document, { _id: "sid", session: { ...stored, items: [1, 2, 3] } })).toBe(false);
    expect(
      matches(document, { _id: "sid", session: { ...stored, cookie: { ...stored.cookie, expires: later } } }),
    ).toBe(false);
    expect(matches(document, { _id: "sid", session: { ...stored, cookie: { ...stored.cookie, secure: false } } })).toBe(
      false,
    );
    expect(matches(document, { _id: "sid", session: { user: { id: 42 } } })).toBe(false);
    expect(matches({ _id: "sid", session: '{"a":1}' }, { _id: "sid", session: '{"a":1}' })).toBe(true);
    expect(matches({ _id: "sid", session: '{"a":1}' }, { _id: "sid", session: '{"a":2}' })).toBe(false);
    expect(matches({ _id: "sid", session: '{"a":1}' }, { _id: "other", session: '{"a":1}' })).toBe(false);
  });

  it("dotted paths reach into sub-documents and through arrays of them", () => {
    const doc = { session: { user: { id: 42 } }, roles: [{ name: "admin" }, { name: "user" }], tags: ["a", "b"] };
    expect(matches(doc, { "session.user.id": 42 })).toBe(true);
    expect(matches(doc, { "roles.name": "user" })).toBe(true);
    expect(matches(doc, { tags: "b" })).toBe(true); // an array matches when an element does
    expect(matches(doc, { "session.missing.id": null })).toBe(true);
    expect(valueAt(doc, "roles.name")).toEqual(["admin", "user"]);
  });

  it("$and, $or, $nor, $in, $nin, $eq, $ne", () => {
    const doc = { a: 1, b: "x" };
    expect(matches(doc, { $and: [{ a: 1 }, { b: "x" }] })).toBe(true);
    expect(matches(doc, { $or: [{ a: 2 }, { b: "x" }] })).toBe(true);
    expect(matches(doc, { $nor: [{ a: 2 }, { b: "y" }] })).toBe(true);
    expect(matches(doc, { a: { $in: [3, 1] }, b: { $nin: ["y"] } })).toBe(true);
    expect(matches(doc, { a: { $eq: 1 }, b: { $ne: "x" } })).toBe(false);
    expect(matches({}, {})).toBe(true);
  });

  it("refuses what it does not implement, loudly", () => {
    expect(() => matches({}, { a: { $regex: "x" } })).toThrow(CommandError);
    expect(() => matches({}, { $where: "true" })).toThrow(/unknown top level operator/);
    expect(() => matches({}, { $or: [] })).toThrow(/nonempty array/);
    expect(() => matches({}, { a: { $in: 1 } })).toThrow(/needs an array/);
  });

  it("orders strings by UTF-8 bytes, as the simple collation does", () => {
    // In UTF-16 code units U+FF5E (0xFF5E) sorts after U+1F600 (0xD83D 0xDE00); in UTF-8 (EF.. < F0..) before.
    expect("\uff5e" < "\u{1f600}").toBe(false);
    expect(compare("\uff5e", "\u{1f600}")).toBeLessThan(0);
    expect(compare("b", "a")).toBeGreaterThan(0);
    expect(compare("a", 1)).toBeUndefined();
  });
});

describe("project", () => {
  const doc = { _id: "sid", session: "{}", expires: now, lastModified: now };

  it("includes the named fields and _id unless excluded (the adapter's projection)", () => {
    expect(project(doc, { _id: 0, session: 1, expires: 1 })).toEqual({ session: "{}", expires: now });
    expect(project(doc, { session: 1 })).toEqual({ _id: "sid", session: "{}" });
    expect(project(doc, { _id: 0, session: 1, nothing: 1 })).toEqual({ session: "{}" });
  });

  it("excludes fields, or returns the document without a projection", () => {
    expect(project(doc, { lastModified: 0 })).toEqual({ _id: "sid", session: "{}", expires: now });
    expect(project(doc, undefined)).toBe(doc);
    expect(project(doc, {})).toBe(doc);
  });

  it("refuses a mix of inclusion and exclusion, and what it does not implement", () => {
    expect(() => project(doc, { session: 1, expires: 0 })).toThrow(/Cannot do exclusion/);
    expect(() => project(doc, { "session.user": 1 })).toThrow(CommandError);
  });
});

describe("applyUpdate", () => {
  it("connect-mongo's set: $set with the same _id, upserted from the filter", () => {
    const update = { $set: { _id: "sid", session: "{}", expires: later } };
    const inserted = applyUpdate(seedFromFilter({ _id: "sid" }), update, true);
    expect(inserted).toEqual({ _id: "sid", session: "{}", expires: later });
    expect(applyUpdate(inserted, { $set: { expires: earlier } }, false)).toEqual({
      _id: "sid",
      session: "{}",
      expires: earlier,
    });
  });

  it("timestamps: $setOnInsert only when inserting, $currentDate sets a date", () => {
    const update = { $set: { session: "{}" }, $setOnInsert: { createdAt: now }, $currentDate: { updatedAt: true } };
    const inserted = applyUpdate({ _id: "sid" }, update, true);
    expect(inserted.createdAt).toEqual(now);
    expect(inserted.updatedAt).toBeInstanceOf(Date);
    expect(applyUpdate({ _id: "sid" }, update, false).createdAt).toBeUndefined();
  });

  it("$unset, $inc, dotted $set, and a replacement keeping _id; the input is left alone", () => {
    const original = { _id: 1, a: { b: 1 }, n: 1, gone: true };
    const updated = applyUpdate(original, { $unset: { gone: "" }, $inc: { n: 2 }, $set: { "a.c": 3 } }, false);
    expect(updated).toEqual({ _id: 1, a: { b: 1, c: 3 }, n: 3 });
    expect(original).toEqual({ _id: 1, a: { b: 1 }, n: 1, gone: true });
    expect(applyUpdate(original, { x: 1 }, false)).toEqual({ _id: 1, x: 1 });
  });

  it("refuses to change _id, unknown modifiers and pipelines", () => {
    expect(() => applyUpdate({ _id: "a" }, { $set: { _id: "b" } }, false)).toThrow(/immutable field '_id'/);
    expect(() => applyUpdate({ _id: "a" }, { _id: "b" }, false)).toThrow(/immutable/);
    expect(() => applyUpdate({}, { $push: { a: 1 } }, false)).toThrow(/Unknown modifier/);
    expect(() => applyUpdate({}, [{ $set: { a: 1 } }] as unknown as Document, false)).toThrow(/pipelines/);
  });

  it("keeps a field named __proto__ as data, never as a prototype", () => {
    const updated = applyUpdate({ _id: 1 }, { $set: JSON.parse('{"__proto__":{"polluted":true}}') as Document }, false);
    expect(Object.hasOwn(updated, "__proto__")).toBe(true);
    expect((updated as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("seeds an upsert from top-level equality only", () => {
    expect(seedFromFilter({ _id: "a", n: { $eq: 1 }, m: { $gt: 1 }, "x.y": 1, $and: [{ k: 2 }] })).toEqual({
      _id: "a",
      n: 1,
      k: 2,
    });
  });
});

describe("wire codec", () => {
  it("reassembles messages split across chunks and several in one chunk", () => {
    const one = encodeMsgRequest(1, { ping: 1, $db: "admin" });
    const two = encodeMsgRequest(2, { find: "c", filter: {}, $db: "app" });
    const reader = new FrameReader();
    const bytes = Buffer.concat([one, two]);
    expect(reader.push(bytes.subarray(0, 7))).toEqual([]);
    const frames = [...reader.push(bytes.subarray(7, one.length + 3)), ...reader.push(bytes.subarray(one.length + 3))];
    expect(frames.map((frame) => decodeRequest(frame).body)).toEqual([
      { ping: 1, $db: "admin" },
      { find: "c", filter: {}, $db: "app" },
    ]);
  });

  it("folds OP_MSG document sequences into the body and sees moreToCome", () => {
    const frame = encodeMsgRequest(
      3,
      { insert: "c", $db: "app" },
      { moreToCome: true, sequences: { documents: [{ _id: 1 }, { _id: 2 }] } },
    );
    const request = decodeRequest(frame);
    expect(request).toMatchObject({ requestId: 3, opCode: OP_MSG, db: "app", noReply: true });
    expect(request.body.documents).toEqual([{ _id: 1 }, { _id: 2 }]);
  });

  it("answers in the request's opcode, echoing its id", () => {
    const request = decodeRequest(encodeMsgRequest(9, { ping: 1, $db: "admin" }));
    expect(decodeReply(encodeReply(request, 100, { ok: 1 }))).toEqual({
      responseTo: 9,
      opCode: OP_MSG,
      body: { ok: 1 },
    });
    const legacy = { ...request, opCode: OP_QUERY } as const;
    expect(decodeReply(encodeReply(legacy, 101, { ok: 1 }))).toMatchObject({
      responseTo: 9,
      opCode: 1,
      body: { ok: 1 },
    });
  });

  it("refuses nonsense lengths and unknown opcodes", () => {
    const reader = new FrameReader();
    const bad = Buffer.alloc(16);
    bad.writeInt32LE(3, 0);
    expect(() => reader.push(bad)).toThrow(ProtocolError);
    const unknown = encodeMsgRequest(1, { ping: 1 });
    unknown.writeInt32LE(2012, 12); // OP_COMPRESSED: never negotiated
    expect(() => decodeRequest(unknown)).toThrow(/unsupported opcode 2012/);
  });
});
