import { createRequire } from "node:module";
import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { sessionAuth, SessionAuthError, type SessionAuthOptions } from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";
import { signSessionCookie } from "socket.io-session-auth/testing";

// keygrip ships no types: only what these tests use.
interface Keygrip {
  sign(data: string): string;
  index(data: string, digest: string): number;
}
const require = createRequire(import.meta.url);
const Keygrip = require("keygrip") as new (keys: readonly string[], algorithm?: string) => Keygrip;

const KEYS = ["key-new", "key-old"];
const payload = (session: object): string => Buffer.from(JSON.stringify(session)).toString("base64");
const VALUE = payload({ user: { id: 42, name: "alice", roles: ["admin", "user"] } });

/** The cookie pair exactly as cookie-session / koa write it: the value raw, `.sig` = keygrip over `name=value`. */
function pair(name: string, value: string, keys: readonly string[], algorithm?: string): string {
  return `${name}=${value}; ${name}.sig=${new Keygrip(keys, algorithm).sign(`${name}=${value}`)}`;
}

function authFor(options: Partial<SessionAuthOptions<Record<string, unknown>>> = {}) {
  const errors: SessionAuthError[] = [];
  const auth = sessionAuth<Record<string, unknown>>({
    store: cookieStore(),
    signing: "keygrip",
    name: "session",
    secret: KEYS,
    onError: (error) => errors.push(error),
    ...options,
  });
  const check = (cookie: string) => auth.authenticate({ headers: { cookie }, url: "/" } as IncomingMessage);
  return { check, errors };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SessionAuthError);
    return (error as SessionAuthError).code;
  }
  throw new Error("expected a refusal");
}

describe('signing: "keygrip" (the core) against the real keygrip', () => {
  it("verifies what keygrip signs, and says which key did", async () => {
    const { check } = authFor();
    const result = await check(pair("session", VALUE, KEYS));
    expect(result).toMatchObject({ userId: "42", secretIndex: 0, sessionId: VALUE });
    expect(result.session).toEqual({ user: { id: 42, name: "alice", roles: ["admin", "user"] } });
  });

  it("any key of the array verifies (rotation): a cookie signed by the old key still passes", async () => {
    const { check } = authFor();
    expect((await check(pair("session", VALUE, ["key-old"]))).secretIndex).toBe(1);
    expect(await codeOf(check(pair("session", VALUE, ["key-gone"])))).toBe("BAD_SIGNATURE");
  });

  it.each(["sha1", "sha256", "sha512"] as const)(
    "matches keygrip's %s, and only with the same algorithm",
    async (algorithm) => {
      const cookie = pair("koa.sess", VALUE, KEYS, algorithm);
      const { check } = authFor({ name: "koa.sess", ...(algorithm === "sha1" ? {} : { algorithm }) });
      expect((await check(cookie)).userId).toBe("42");
      const other = algorithm === "sha1" ? "sha256" : "sha1";
      expect(
        await codeOf(authFor({ name: "koa.sess", ...(other === "sha1" ? {} : { algorithm: other }) }).check(cookie)),
      ).toBe("BAD_SIGNATURE");
    },
  );

  it("agrees with keygrip's own verdict on valid and forged signatures", async () => {
    const grip = new Keygrip(KEYS);
    const { check } = authFor();
    const data = `session=${VALUE}`;
    const good = grip.sign(data);
    const forged = [
      good.slice(0, -1) + (good.endsWith("A") ? "B" : "A"),
      good.toLowerCase(),
      `${good}=`,
      good.slice(1),
      "",
      "x",
    ];
    for (const sig of [good, ...forged]) {
      const ours = await check(`session=${VALUE}; session.sig=${sig}`).then(
        () => true,
        () => false,
      );
      expect(ours).toBe(grip.index(data, sig) >= 0);
    }
  });

  it("refuses a missing .sig with BAD_SIGNATURE, before the store is asked", async () => {
    let gets = 0;
    const store = cookieStore();
    const { check, errors } = authFor({ store: { name: store.name, get: (id, o) => (gets++, store.get(id, o)) } });
    expect(await codeOf(check(`session=${VALUE}`))).toBe("BAD_SIGNATURE");
    expect(errors[0]!.message).toContain('"session.sig"');
    expect(gets).toBe(0);
  });

  it("refuses an edited payload under the old .sig", async () => {
    const { check } = authFor();
    const sig = new Keygrip(KEYS).sign(`session=${VALUE}`);
    const edited = payload({ user: { id: 1, name: "mallory", roles: ["admin"] } });
    expect(await codeOf(check(`session=${edited}; session.sig=${sig}`))).toBe("BAD_SIGNATURE");
  });

  it("binds the signature to the cookie name", async () => {
    const { check } = authFor();
    const sig = new Keygrip(KEYS).sign(`other=${VALUE}`);
    expect(await codeOf(check(`session=${VALUE}; session.sig=${sig}`))).toBe("BAD_SIGNATURE");
  });

  it("verifies the raw value, not a URL-decoded one (the cookies package writes base64 verbatim)", async () => {
    const { check } = authFor();
    // A value with "+", "/" and "=": sent raw it verifies; %-encoded, it is not what was signed.
    const value = payload({ user: { id: 9 }, bits: "\u00fb\u00ff\u00fe?>" });
    expect(value).toMatch(/[+/]/);
    expect((await check(pair("session", value, KEYS))).userId).toBe("9");
    const sig = new Keygrip(KEYS).sign(`session=${value}`);
    expect(await codeOf(check(`session=${encodeURIComponent(value)}; session.sig=${sig}`))).toBe("BAD_SIGNATURE");
  });

  it("strips one pair of double quotes before verifying, as the cookies package does", async () => {
    const { check } = authFor();
    const sig = new Keygrip(KEYS).sign(`session=${VALUE}`);
    expect((await check(`session="${VALUE}"; session.sig=${sig}`)).userId).toBe("42");
  });

  it("takes the first of duplicate cookies, as the cookies package does", async () => {
    const { check } = authFor();
    const stale = payload({ user: { id: 1 } });
    const cookie = `${pair("session", VALUE, KEYS)}; ${pair("session", stale, KEYS)}`;
    expect((await check(cookie)).userId).toBe("42");
  });

  it("is what signSessionCookie writes, byte for byte", () => {
    expect(signSessionCookie({ signing: "keygrip", name: "session", value: VALUE, secret: KEYS })).toBe(
      pair("session", VALUE, KEYS),
    );
    expect(signSessionCookie({ signing: "keygrip", name: "s", value: VALUE, secret: KEYS, algorithm: "sha512" })).toBe(
      pair("s", VALUE, KEYS, "sha512"),
    );
  });

  it("turns an unreadable payload that carries a valid signature into SESSION_NOT_FOUND with the cause for onError", async () => {
    const { check, errors } = authFor();
    const notJson = Buffer.from("{user: 42}").toString("base64");
    expect(await codeOf(check(pair("session", notJson, KEYS)))).toBe("SESSION_NOT_FOUND");
    expect(errors[0]!.cause).toBeInstanceOf(SyntaxError);
    expect(errors[0]!.message).not.toContain(notJson);
    expect(await codeOf(check(pair("session", payload([1, 2]), KEYS)))).toBe("SESSION_NOT_FOUND");
    expect(errors[1]!.cause).toBeInstanceOf(TypeError);
  });

  it("answers SESSION_EXPIRED for a koa-session payload whose _expire has passed", async () => {
    const { check, errors } = authFor({ name: "koa.sess" });
    const expired = payload({ user: { id: 1 }, _expire: Date.now() - 1000, _maxAge: 60_000 });
    expect(await codeOf(check(pair("koa.sess", expired, KEYS)))).toBe("SESSION_EXPIRED");
    expect(errors[0]!.message).toContain("cookie (cookie-session)");
  });
});
