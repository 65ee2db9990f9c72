import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sessionRoom } from "socket.io-session-auth";
import { isPushError, PushError } from "../../../src/push/errors.js";
import { isIdentity, isJson, parseJson, MAX_JSON_DEPTH } from "../../../src/push/body.js";
import { DEFAULT_ROOMS, type RoomNaming } from "../../../src/rooms.js";
import {
  validateBatch,
  validateDisconnect,
  validateLegacy,
  validateMessage,
  validatePresence,
  validateRooms,
  type ValidatorConfig,
} from "../../../src/push/validate.js";

const config = (overrides: Partial<ValidatorConfig> = {}): ValidatorConfig => ({
  naming: DEFAULT_ROOMS,
  namespaces: new Set(["/", "/admin"]),
  maxTargets: 100,
  maxBatch: 100,
  ...overrides,
});

function refusal(run: () => unknown): { code: string; path: string | undefined; status: number } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof PushError)) throw error;
    return { code: error.code, path: error.path, status: error.status };
  }
  throw new Error("expected a refusal");
}

describe("validateMessage", () => {
  it("fills the defaults: namespace /, event message, data null, no ack", () => {
    expect(validateMessage({ to: { user: "42" } }, config())).toEqual({
      id: undefined,
      scope: { namespace: "/", rooms: ["user:42"], except: [] },
      event: "message",
      data: null,
      ackTimeout: null,
    });
  });

  it("names rooms with the naming in force, dedups them, hashes session ids", () => {
    const naming: RoomNaming = { user: "u/", session: "s/" };
    const op = validateMessage(
      {
        to: { user: [1, "1", "2"], room: ["r", "r"], socket: "abc", session: "raw-session-id" },
        except: { user: 3, room: "muted", socket: "x" },
      },
      config({ naming }),
    );
    expect(op.scope.rooms).toEqual(["u/1", "u/2", "r", "abc", sessionRoom("raw-session-id", "s/")]);
    expect(op.scope.except).toEqual(["u/3", "muted", "x"]);
    expect(JSON.stringify(op.scope)).not.toContain("raw-session-id");
  });

  it("takes { all: true } alone, as rooms: null", () => {
    expect(validateMessage({ to: { all: true } }, config()).scope.rooms).toBeNull();
    expect(refusal(() => validateMessage({ to: { all: false } }, config()))).toMatchObject({ path: "to.all" });
    expect(refusal(() => validateMessage({ to: { all: true, room: "r" } }, config()))).toMatchObject({
      path: "to.room",
    });
  });

  it("never turns an empty target into a broadcast", () => {
    for (const to of [{}, { user: [] }, { room: [] }, { user: undefined }]) {
      expect(refusal(() => validateMessage({ to }, config()))).toMatchObject({ code: "INVALID_MESSAGE", status: 400 });
    }
    expect(refusal(() => validateMessage({}, config()))).toMatchObject({ path: "to" });
  });

  it("names the path of the bad field", () => {
    const cases: Array<[unknown, string, string]> = [
      [null, "INVALID_MESSAGE", ""],
      ["text", "INVALID_MESSAGE", ""],
      [{ to: "user:1" }, "INVALID_MESSAGE", "to"],
      [{ to: { users: "1" } }, "INVALID_MESSAGE", "to.users"],
      [{ to: { user: NaN } }, "INVALID_MESSAGE", "to.user"],
      [{ to: { user: ["a", ""] } }, "INVALID_MESSAGE", "to.user[1]"],
      [{ to: { room: 5 } }, "INVALID_MESSAGE", "to.room"],
      [{ to: { room: "x".repeat(513) } }, "INVALID_MESSAGE", "to.room"],
      [{ to: { user: "1" }, except: { session: "s" } }, "INVALID_MESSAGE", "except.session"],
      [{ to: { user: "1" }, except: { all: true } }, "INVALID_MESSAGE", "except.all"],
      [{ to: { user: "1" }, id: "" }, "INVALID_MESSAGE", "id"],
      [{ to: { user: "1" }, id: 5 }, "INVALID_MESSAGE", "id"],
      [{ to: { user: "1" }, namespace: "/nope" }, "UNKNOWN_NAMESPACE", "namespace"],
      [{ to: { user: "1" }, event: 1 }, "INVALID_MESSAGE", "event"],
      [{ to: { user: "1" }, event: "newListener" }, "RESERVED_EVENT", "event"],
      [{ to: { user: "1" }, ack: true }, "INVALID_MESSAGE", "ack"],
      [{ to: { user: "1" }, ack: { timeout: 0 } }, "INVALID_MESSAGE", "ack.timeout"],
      [{ to: { user: "1" }, ack: { timeout: 1.5 } }, "INVALID_MESSAGE", "ack.timeout"],
      [{ to: { user: "1" }, ack: { wait: 1 } }, "INVALID_MESSAGE", "ack.wait"],
      [{ to: { user: "1" }, __proto__: { evil: true } }, "INVALID_MESSAGE", ""],
      [JSON.parse('{"to":{"user":"1"},"__proto__":{"evil":true}}'), "INVALID_MESSAGE", "__proto__"],
    ];
    for (const [message, code, path] of cases) {
      expect({ message, ...refusal(() => validateMessage(message, config())) }).toMatchObject({ code, path });
    }
  });

  it("counts targets across to and except against maxTargets", () => {
    const small = config({ maxTargets: 3 });
    expect(validateMessage({ to: { user: [1, 2] }, except: { socket: "s" } }, small).scope.except).toEqual(["s"]);
    expect(refusal(() => validateMessage({ to: { user: [1, 2] }, except: { socket: ["s", "t"] } }, small))).toEqual({
      code: "TOO_MANY_TARGETS",
      path: "except.socket",
      status: 400,
    });
  });

  it("refuses users or sessions when their rooms are turned off", () => {
    const off = config({ naming: { user: null, session: null } });
    expect(refusal(() => validateMessage({ to: { user: "1" } }, off))).toMatchObject({ path: "to.user" });
    expect(refusal(() => validateMessage({ to: { session: "s" } }, off))).toMatchObject({ path: "to.session" });
    expect(validateMessage({ to: { room: "r" } }, off).scope.rooms).toEqual(["r"]);
  });

  it("accepts ack with the default timeout, and the bounds 1 and 30 000", () => {
    expect(validateMessage({ to: { user: 1 }, ack: {} }, config()).ackTimeout).toBe(5000);
    expect(validateMessage({ to: { user: 1 }, ack: { timeout: 1 } }, config()).ackTimeout).toBe(1);
    expect(validateMessage({ to: { user: 1 }, ack: { timeout: 30_000 } }, config()).ackTimeout).toBe(30_000);
  });

  it("treats undefined fields as absent (what send() callers write)", () => {
    expect(
      validateMessage({ to: { user: 1, room: undefined }, id: undefined, data: undefined }, config()).data,
    ).toBeNull();
  });

  it("throws nothing but a PushError, whatever it is given (fast-check)", () => {
    const targetValue = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 5 }),
      fc.anything(),
    );
    const message = fc.record(
      {
        id: fc.oneof(fc.string(), fc.anything()),
        to: fc.oneof(
          fc.record(
            { user: targetValue, room: targetValue, socket: targetValue, session: targetValue, all: fc.anything() },
            { requiredKeys: [] },
          ),
          fc.anything(),
        ),
        except: fc.anything(),
        namespace: fc.oneof(fc.constantFrom("/", "/admin", "/x"), fc.anything()),
        event: fc.oneof(fc.constantFrom("message", "connect", "error", ""), fc.string(), fc.anything()),
        data: fc.anything(),
        ack: fc.oneof(
          fc.record({ timeout: fc.oneof(fc.integer(), fc.double(), fc.anything()) }, { requiredKeys: [] }),
          fc.anything(),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(message, fc.anything(), fc.jsonValue()), (value) => {
        try {
          const op = validateMessage(value, config());
          // Whatever passes is a well-formed operation: a non-empty room list or an explicit broadcast.
          expect(op.scope.rooms === null || op.scope.rooms.length > 0).toBe(true);
          expect(op.event.length).toBeGreaterThan(0);
        } catch (error) {
          expect(isPushError(error)).toBe(true);
          expect((error as PushError).status).toBeGreaterThanOrEqual(400);
          expect((error as PushError).status).toBeLessThan(500);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("the other bodies", () => {
  it("batch: every message checked, paths prefixed by their index", () => {
    expect(validateBatch({ messages: [{ to: { user: 1 } }, { to: { room: "r" } }] }, config())).toHaveLength(2);
    expect(validateBatch({ messages: [] }, config())).toEqual([]);
    expect(
      refusal(() =>
        validateBatch({ messages: [{ to: { user: 1 } }, { to: { user: 1 }, ack: { timeout: -1 } }] }, config()),
      ),
    ).toMatchObject({
      path: "messages[1].ack.timeout",
    });
    expect(refusal(() => validateBatch({ messages: {} }, config()))).toMatchObject({ path: "messages" });
    expect(refusal(() => validateBatch({ messages: [1, 2, 3] }, config({ maxBatch: 2 })))).toMatchObject({
      code: "TOO_MANY_MESSAGES",
    });
  });

  it("legacy: single is a user, room a room, all everyone; content is the data of `message`", () => {
    expect(validateLegacy({ type: "single", pointer: 42, content: "x" }, config())).toMatchObject({
      scope: { rooms: ["user:42"] },
      event: "message",
      data: "x",
    });
    expect(validateLegacy({ type: "room", pointer: "r" }, config())).toMatchObject({
      scope: { rooms: ["r"] },
      data: null,
    });
    expect(validateLegacy({ type: "all", content: 1 }, config()).scope.rooms).toBeNull();
    expect(refusal(() => validateLegacy({ type: "single" }, config()))).toMatchObject({ path: "pointer" });
    expect(refusal(() => validateLegacy({ type: "room", pointer: 5 }, config()))).toMatchObject({ path: "pointer" });
    expect(refusal(() => validateLegacy({ type: "single", pointer: 1, extra: 1 }, config()))).toMatchObject({
      path: "extra",
    });
  });

  it("disconnect, rooms and presence", () => {
    expect(validateDisconnect({ to: { user: 1 } }, config())).toEqual({
      scope: { namespace: "/", rooms: ["user:1"], except: [] },
      close: false,
      ends: { users: ["1"], sessions: [] },
    });
    expect(validateDisconnect({ to: { all: true }, close: true, namespace: "/admin" }, config())).toMatchObject({
      close: true,
      scope: { namespace: "/admin", rooms: null },
      ends: null,
    });
    // Only users and sessions, nothing else, go through the session lifecycle.
    expect(validateDisconnect({ to: { user: "a", session: "sid" } }, config()).ends).toEqual({
      users: ["a"],
      sessions: ["sid"],
    });
    expect(validateDisconnect({ to: { user: "a", room: "r" } }, config()).ends).toBeNull();
    expect(validateDisconnect({ to: { user: "a" }, except: { user: "b" } }, config()).ends).toBeNull();
    expect(validateDisconnect({ to: { user: "a" }, close: true }, config()).ends).toBeNull();
    expect(refusal(() => validateDisconnect({ to: { user: 1 }, close: "yes" }, config()))).toMatchObject({
      path: "close",
    });
    expect(validateRooms({ to: { user: 1 }, rooms: ["a", "a", "b"] }, config()).rooms).toEqual(["a", "b"]);
    expect(refusal(() => validateRooms({ to: { user: 1 } }, config()))).toMatchObject({ path: "rooms" });
    expect(
      refusal(() =>
        validateRooms({ to: { user: Array.from({ length: 99 }, (_, i) => i) }, rooms: ["a", "b"] }, config()),
      ),
    ).toMatchObject({
      code: "TOO_MANY_TARGETS",
      path: "rooms",
    });
    expect(validatePresence({ users: [1, "1", "b"] }, config()).users).toEqual([
      ["1", "user:1"],
      ["b", "user:b"],
    ]);
    expect(refusal(() => validatePresence({ users: "1" }, config()))).toMatchObject({ path: "users" });
    expect(
      refusal(() => validatePresence({ users: [1] }, config({ naming: { user: null, session: "s:" } }))),
    ).toMatchObject({ path: "users" });
  });
});

describe("parseJson and isJson", () => {
  it("parses UTF-8 JSON and refuses the rest with BAD_JSON", () => {
    const enc = (text: string) => new TextEncoder().encode(text);
    expect(parseJson(enc('{"a":"é"}'))).toEqual({ a: "é" });
    expect(parseJson(enc('\uFEFF{"bom":1}'))).toEqual({ bom: 1 });
    for (const bad of [new Uint8Array([0x7b, 0xff, 0x7d]), enc(""), enc("  "), enc("{"), enc("undefined")]) {
      expect(refusal(() => parseJson(bad)).code).toBe("BAD_JSON");
    }
  });

  it("refuses nesting deeper than MAX_JSON_DEPTH, not brackets inside strings", () => {
    const nested = (depth: number) => new TextEncoder().encode("[".repeat(depth) + "]".repeat(depth));
    expect(parseJson(nested(MAX_JSON_DEPTH))).toBeInstanceOf(Array);
    expect(refusal(() => parseJson(nested(MAX_JSON_DEPTH + 1))).code).toBe("BAD_JSON");
    const inString = JSON.stringify({ s: "[".repeat(500) + '\\"{' });
    expect(parseJson(new TextEncoder().encode(inString))).toEqual(JSON.parse(inString));
  });

  it("agrees with JSON.parse on every JSON text within the depth limit (fast-check)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), (value) => {
        const text = JSON.stringify(value);
        expect(parseJson(new TextEncoder().encode(text))).toEqual(JSON.parse(text));
      }),
    );
  });

  it("knows application/json with a UTF-8 charset or none", () => {
    expect(
      [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON;charset=UTF8",
        'application/json; charset="utf-8"',
      ].map(isJson),
    ).toEqual([true, true, true, true]);
    expect(
      [undefined, "", "text/json", "application/jsonx", "application/json; charset=utf-16", "application/x-ndjson"].map(
        isJson,
      ),
    ).toEqual([false, false, false, false, false, false]);
  });
});

describe("numeric user ids (issue 14, item 1)", () => {
  // 12345678901234567890 is rounded by every JSON parser to 12345678901234567000: another user.
  const rounded = JSON.parse('{"user":12345678901234567890}').user as number;

  it("accepts a number only where it is exact (a safe integer), and names the field otherwise", () => {
    expect(validateMessage({ to: { user: [7, -3, 0, Number.MAX_SAFE_INTEGER] } }, config()).scope.rooms).toEqual([
      "user:7",
      "user:-3",
      "user:0",
      `user:${Number.MAX_SAFE_INTEGER}`,
    ]);
    for (const bad of [rounded, 2 ** 53, -(2 ** 53), 1.5, 1e21]) {
      expect(refusal(() => validateMessage({ to: { user: bad } }, config()))).toEqual({
        code: "INVALID_MESSAGE",
        path: "to.user",
        status: 400,
      });
    }
    expect(refusal(() => validateMessage({ to: { user: ["1", rounded] } }, config())).path).toBe("to.user[1]");
    expect(refusal(() => validateMessage({ to: { all: true }, except: { user: rounded } }, config())).path).toBe(
      "except.user",
    );
    expect(
      refusal(() => validateBatch({ messages: [{ to: { user: "1" } }, { to: { user: rounded } }] }, config())).path,
    ).toBe("messages[1].to.user");
    expect(refusal(() => validateLegacy({ type: "single", pointer: rounded }, config())).path).toBe("pointer");
    expect(refusal(() => validatePresence({ users: ["5", rounded] }, config())).path).toBe("users[1]");
    // The same id as a string is exact, and is what the message says to send instead.
    expect(validateMessage({ to: { user: "12345678901234567890" } }, config()).scope.rooms).toEqual([
      "user:12345678901234567890",
    ]);
  });

  it("never turns a number that is not a safe integer into a room (fast-check)", () => {
    fc.assert(
      fc.property(fc.double(), (value) => {
        let rooms: readonly string[] | null = null;
        try {
          rooms = validateMessage({ to: { user: value } }, config()).scope.rooms;
        } catch (error) {
          expect(isPushError(error) && error.path).toBe("to.user");
        }
        if (rooms !== null) {
          expect(Number.isSafeInteger(value)).toBe(true);
          expect(rooms).toEqual([`user:${String(value)}`]);
        }
      }),
    );
  });
});

describe("duplicate JSON keys (issue 14, item 5)", () => {
  const enc = (text: string) => new TextEncoder().encode(text);
  const duplicate = (text: string) => refusal(() => parseJson(enc(text)));

  it("refuses a key repeated in any object with DUPLICATE_KEY naming its path", () => {
    expect(duplicate('{"to":{"user":"1"},"to":{"all":true},"event":"x"}')).toEqual({
      code: "DUPLICATE_KEY",
      path: "to",
      status: 400,
    });
    expect(duplicate('{"to":{"all":true},"except":{"user":"1"},"except":{}}').path).toBe("except");
    expect(duplicate('{"messages":[{"to":{"user":"1"}},{"to":{"user":"1","user":"2"}}]}').path).toBe(
      "messages[1].to.user",
    );
    expect(duplicate('{"a":1,"\\u0061":2}').path).toBe("a"); // the same property once decoded
    expect(duplicate('{"data":{"x":[1,{"k":1,"k":1}]}}').path).toBe("data.x[1].k");
    expect(duplicate('{"__proto__":1,"__proto__":2}').path).toBe("__proto__");
    // Past a few keys the scanner keeps them in a Set: the same answer there.
    const many = Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(",");
    expect(duplicate(`{"data":{${many},"k3":0}}`).path).toBe("data.k3");
    expect(duplicate(`{"data":{${many},"k19":0}}`).path).toBe("data.k19");
    expect(parseJson(enc(`{"data":{${many}}}`))).toEqual({
      data: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    });
  });

  it("accepts the same key in different objects, and keys inside strings", () => {
    expect(parseJson(enc('[{"a":1},{"a":2}]'))).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseJson(enc('{"a":{"a":{"a":1}}}'))).toEqual({ a: { a: { a: 1 } } });
    expect(parseJson(enc('{"s":"\\"a\\":1,\\"a\\":2","t":"\\\\","a":1}'))).toEqual({ s: '"a":1,"a":2', t: "\\", a: 1 });
  });

  it("prefers BAD_JSON when the text is not JSON at all", () => {
    expect(duplicate('{"a":1,"a":2').code).toBe("BAD_JSON");
  });

  it("finds a repeated key wherever it is put in any JSON object (fast-check)", () => {
    const objectWithPath = fc
      .jsonValue({ maxDepth: 4 })
      .filter(
        (value) =>
          typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length > 0,
      );
    fc.assert(
      fc.property(objectWithPath, fc.nat(), (value, pick) => {
        const keys = Object.keys(value as object);
        const key = keys[pick % keys.length]!;
        const text = JSON.stringify(value);
        // Repeat `key` at the end of the top-level object.
        const repeated = `${text.slice(0, -1)},${JSON.stringify(key)}:null}`;
        const { code, path } = refusal(() => parseJson(enc(repeated)));
        expect(code).toBe("DUPLICATE_KEY");
        expect(path).toBe(key.length > 40 ? `${key.slice(0, 40)}…` : key);
      }),
    );
  });

  it("never throws anything but a PushError and always ends, on any text (fast-check)", () => {
    const jsonish = fc
      .array(fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "\\", "a", "1", " ", '"k"', "\\u0061"), {
        maxLength: 60,
      })
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.oneof(jsonish, fc.string({ maxLength: 200 })), (text) => {
        try {
          parseJson(enc(text));
        } catch (error) {
          expect(isPushError(error)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("stays linear: a 1 MiB object of distinct keys, and one of backslashes, scan in well under a second", () => {
    const keys = `{${Array.from({ length: 60_000 }, (_, i) => `"k${i}":${i}`).join(",")}}`;
    const slashes = JSON.stringify({ s: "\\".repeat(400_000) + '"'.repeat(100_000) });
    for (const text of [keys, slashes]) {
      const started = performance.now();
      parseJson(enc(text));
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });
});

describe("Content-Encoding (issue 14, item 6)", () => {
  it("takes no coding or identity only", () => {
    expect([undefined, "identity", "IDENTITY", " identity ", "", ["identity"]].map(isIdentity)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(["gzip", "deflate", "br", "zstd", "identity, gzip", "x-gzip", ["gzip"]].map(isIdentity)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
