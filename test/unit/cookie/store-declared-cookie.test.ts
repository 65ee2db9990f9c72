import { createHmac, createSecretKey, generateKeyPairSync, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { makeSignature } from "better-auth/crypto";
import { describe, expect, it, vi } from "vitest";
import { createCookieReader, MAX_CHUNKS, MAX_COOKIE_CHARS, type CookieReaderOptions } from "../../../src/cookies.js";
import { SessionAuthError, sessionAuth, type SessionStore, type StoreGetOptions } from "socket.io-session-auth";
import { signSessionCookie } from "socket.io-session-auth/testing";

// A spy that passes through: the comparisons must go through Node's constant-time compare.
const { safeEqual } = vi.hoisted(() => ({
  safeEqual: vi.fn<(a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => boolean>(),
}));
vi.mock("node:crypto", async (original) => {
  const crypto = await original<typeof import("node:crypto")>();
  safeEqual.mockImplementation((a, b) => crypto.timingSafeEqual(a, b));
  return { ...crypto, default: crypto, timingSafeEqual: safeEqual };
});

// The hook of issue 19: a store declares the cookie it reads (names, signing, secrets, chunks).

function failure(run: () => unknown): SessionAuthError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SessionAuthError);
    return error as SessionAuthError;
  }
  throw new Error("expected a refusal");
}

const none = (options: Partial<CookieReaderOptions> = {}) =>
  createCookieReader({ names: ["app.session"], signing: "none", secrets: [], chunked: true, ...options });

describe("chunked cookies", () => {
  it("joins .0, .1, .2 in index order, whatever their order in the header", () => {
    const read = none();
    expect(read("app.session.2=cc; other=x; app.session.0=aa; app.session.1=bb")).toEqual({
      id: "aabbcc",
      secretIndex: -1,
      name: "app.session",
    });
  });

  it("reads the whole cookie when it came unchunked, and decodes the joined value once", () => {
    const read = none();
    expect(read("app.session=whole; app.session.0=stale").id).toBe("whole");
    // A %XX escape never straddles two chunks, yet decoding the join is right either way.
    expect(read("app.session.0=a%2; app.session.1=0b").id).toBe("a b");
  });

  it("takes the first of a repeated chunk, and ignores names that are not chunks", () => {
    const read = none();
    expect(read("app.session.0=first; app.session.0=second; app.session.sig=x; app.session.01x=y").id).toBe("first");
  });

  it("names the missing chunk of a gap", () => {
    const error = failure(() => none()("app.session.0=aa; app.session.2=cc"));
    expect(error.code).toBe("MALFORMED_COOKIE");
    expect(error.message).toContain('"app.session.1" is missing');
    expect(error.message).toContain("came: .0, .2");
    expect(failure(() => none()("app.session.1=bb")).message).toContain('"app.session.0" is missing');
  });

  it(`refuses a chunk numbered ${MAX_CHUNKS} or more, unread`, () => {
    const chunks = Array.from({ length: MAX_CHUNKS }, (_, i) => `app.session.${i}=x`).join("; ");
    expect(none()(chunks).id).toBe("x".repeat(MAX_CHUNKS));
    const error = failure(() => none()(`${chunks}; app.session.${MAX_CHUNKS}=x`));
    expect(error.code).toBe("MALFORMED_COOKIE");
    expect(error.message).toContain(`at most ${MAX_CHUNKS}`);
    expect(failure(() => none()("app.session.0=x; app.session.99999999999999999999=x")).code).toBe("MALFORMED_COOKIE");
  });

  it(`refuses more than ${MAX_COOKIE_CHARS} characters, chunked or whole`, () => {
    const part = "y".repeat(MAX_COOKIE_CHARS / 4 + 1);
    const chunks = [0, 1, 2, 3].map((i) => `app.session.${i}=${part}`).join("; ");
    const error = failure(() => none()(chunks));
    expect(error.code).toBe("MALFORMED_COOKIE");
    expect(error.message).toContain("over");
    expect(error.message).not.toContain("yyyy");
    expect(failure(() => none()(`app.session=${"y".repeat(MAX_COOKIE_CHARS + 1)}`)).code).toBe("MALFORMED_COOKIE");
  });

  it("reads signed chunks too, verifying the joined value", () => {
    const signed = signSessionCookie({ value: "tok", secret: "s3cret", name: "n", signing: "better-auth" }).slice(2);
    const read = createCookieReader({ names: ["n"], signing: "better-auth", secrets: ["s3cret"], chunked: true });
    expect(read(`n.1=${signed.slice(10)}; n.0=${signed.slice(0, 10)}`).id).toBe("tok");
  });
});

describe("name lists", () => {
  const names = ["__Secure-app.token", "app.token"];

  it("reads the first name present, in the declared order, and says which", () => {
    const read = none({ names, chunked: false });
    expect(read("app.token=plain")).toEqual({ id: "plain", secretIndex: -1, name: "app.token" });
    expect(read("app.token=plain; __Secure-app.token=secure").name).toBe("__Secure-app.token");
  });

  it("names every expected cookie when none came", () => {
    const error = failure(() => none({ names, chunked: true })("unrelated=1"));
    expect(error.code).toBe("NO_SESSION_COOKIE");
    expect(error.message).toContain('"__Secure-app.token" or "app.token" (or its chunks');
    expect(error.message).toContain('cookies present: "unrelated"');
    expect(failure(() => none({ names })(undefined)).message).toContain('"__Secure-app.token" or "app.token"');
  });

  it("keeps the one-name message as before", () => {
    const error = failure(() => none({ names: ["sid"], chunked: false })("x=1"));
    expect(error.message).toBe(
      'No "sid" cookie in the handshake; cookies present: "x". Check the `name` option against the session middleware\'s cookie name.',
    );
  });
});

describe("the __Secure- diagnosis", () => {
  const secureOnly = none({ names: ["__Secure-better-auth.session_token"], chunked: false });

  it("says a __Secure- cookie never comes over plain http, and what to change", () => {
    const error = failure(() => secureOnly("theme=dark", { secure: false }));
    expect(error.code).toBe("NO_SESSION_COOKIE");
    expect(error.message).toContain("browsers send only over https");
    expect(error.message).toContain("plain http");
    expect(error.message).toContain("baseURL");
    // Over https (or unknown) the absence has other causes: no claim about the transport.
    expect(failure(() => secureOnly("theme=dark", { secure: true })).message).not.toContain("plain http");
  });

  it("says when the web app wrote the plain name but the __Secure- one is expected", () => {
    const error = failure(() => secureOnly("better-auth.session_token=abc"));
    expect(error.message).toContain('Only "better-auth.session_token" came');
    expect(error.message).toContain("useSecureCookies");
  });

  it("says when the web app wrote the __Secure- name but the plain one is expected", () => {
    const plain = none({ names: ["better-auth.session_token"], chunked: false });
    const error = failure(() => plain("__Secure-better-auth.session_token=abc"));
    expect(error.message).toContain('Only "__Secure-better-auth.session_token" came');
    expect(error.message).not.toContain("abc");
  });

  it("reaches the handshake: sessionAuth tells plain http from https by the socket, X-Forwarded-Proto, Origin", async () => {
    const store: SessionStore = {
      name: "declared",
      cookie: { names: ["__Secure-app.token"], signing: "none" },
      get: async () => null,
    };
    const auth = sessionAuth({ store });
    const refuse = (headers: Record<string, string>) =>
      auth.authenticate({ headers: { host: "h", ...headers }, url: "/" } as unknown as IncomingMessage).then(
        () => expect.unreachable(),
        (error: SessionAuthError) => error.message,
      );
    expect(await refuse({ cookie: "a=1", origin: "http://h" })).toContain("plain http");
    expect(await refuse({ cookie: "a=1", "x-forwarded-proto": "http" })).toContain("plain http");
    expect(await refuse({ cookie: "a=1", "x-forwarded-proto": "https", origin: "http://h" })).not.toContain(
      "plain http",
    );
  });
});

describe('the "better-auth" signing scheme', () => {
  const SECRET = "a-better-auth-secret-of-32-characters!";
  // What Better Auth puts in Set-Cookie: better-call's signCookieValue, i.e. makeSignature + encodeURIComponent.
  const theirs = async (token: string, secret = SECRET) =>
    `better-auth.session_token=${encodeURIComponent(`${token}.${await makeSignature(token, secret)}`)}`;
  const read = createCookieReader({
    names: ["better-auth.session_token"],
    signing: "better-auth",
    secrets: [SECRET, "an-older-secret"],
  });

  it("verifies values signed by Better Auth's own code, and signSessionCookie writes the same bytes", async () => {
    for (let i = 0; i < 20; i++) {
      const token = randomBytes(24).toString("base64url");
      const header = await theirs(token);
      expect(read(header)).toEqual({ id: token, secretIndex: 0, name: "better-auth.session_token" });
      expect(
        signSessionCookie({ value: token, secret: SECRET, name: "better-auth.session_token", signing: "better-auth" }),
      ).toBe(header);
    }
    expect(read(await theirs("tok", "an-older-secret")).secretIndex).toBe(1);
  });

  it("refuses another secret's signature, an edited token, and shapes that are not Better Auth's", async () => {
    expect(failure(() => read(`x=1; ${"better-auth.session_token=" + "a"}`)).code).toBe("MALFORMED_COOKIE");
    const other = await theirs("tok", "someone-else's-secret");
    expect(failure(() => read(other)).code).toBe("BAD_SIGNATURE");
    const genuine = await theirs("tok");
    expect(failure(() => read(genuine.replace("=tok.", "=tak."))).code).toBe("BAD_SIGNATURE");
    // base64url or unpadded signatures are not what better-call writes (and it refuses them too).
    const mac = createHmac("sha256", SECRET).update("tok").digest();
    expect(failure(() => read(`better-auth.session_token=tok.${mac.toString("base64url")}`)).code).toBe(
      "MALFORMED_COOKIE",
    );
    // 44 characters ending in "=", but multi-byte: refused, never a timingSafeEqual length throw.
    expect(failure(() => read(`better-auth.session_token=tok.${"é".repeat(43)}=`)).code).toBe("BAD_SIGNATURE");
    expect(failure(() => read("better-auth.session_token=%E0%A4%A")).code).toBe("MALFORMED_COOKIE");
  });

  it("compares in constant time: every candidate signature goes through crypto.timingSafeEqual", async () => {
    const genuine = await theirs("tok");
    const last = genuine.at(-4) === "A" ? "B" : "A"; // the last base64 character before "%3D"
    const forged = genuine.slice(0, -4) + last + genuine.slice(-3);
    safeEqual.mockClear();
    expect(failure(() => read(forged)).code).toBe("BAD_SIGNATURE");
    // Both secrets tried, each through timingSafeEqual over the whole 44-byte signature.
    expect(safeEqual).toHaveBeenCalledTimes(2);
    for (const [a, b] of safeEqual.mock.calls) expect([a.byteLength, b.byteLength]).toEqual([44, 44]);
    safeEqual.mockClear();
    expect(read(genuine).id).toBe("tok");
    expect(safeEqual).toHaveBeenCalledTimes(1);
  });
});

describe("secrets as strings, Buffers and KeyObjects", () => {
  const bytes = randomBytes(32);

  it("verifies with a Buffer or a KeyObject exactly as with the same bytes", () => {
    const header = signSessionCookie({ value: "id", secret: bytes });
    for (const secret of [bytes, createSecretKey(bytes), new Uint8Array(bytes), [Buffer.from("x"), bytes]]) {
      const read = createCookieReader({ name: "connect.sid", signing: "express", secrets: [secret].flat() });
      expect(read(header).id).toBe("id");
    }
    // A string secret is its UTF-8 bytes, as in every session library.
    const text = "pässwörd";
    expect(
      createCookieReader({ name: "connect.sid", signing: "express", secrets: [Buffer.from(text, "utf8")] })(
        signSessionCookie({ value: "id", secret: text }),
      ).id,
    ).toBe("id");
  });

  it("refuses at construction what cannot be an HMAC key, naming the option", () => {
    const store: SessionStore = { name: "s", get: async () => null };
    const make = (secret: unknown) => () => sessionAuth({ store, secret: secret as string });
    expect(make("")).toThrow(/`secret` is required/);
    expect(make(["a", ""])).toThrow(/`secret`\[1\] is an empty string/);
    expect(make(Buffer.alloc(0))).toThrow(/empty Buffer/);
    expect(make([])).toThrow(/`secret` is required/);
    expect(make(["ok", 7])).toThrow(/`secret`\[1\] must be a non-empty string, a Buffer or a secret KeyObject/);
    const { privateKey } = generateKeyPairSync("ed25519");
    expect(make(privateKey)).toThrow(/private KeyObject/);
  });

  it("refuses a @fastify/session signer object, saying to pass its keys", async () => {
    const { Signer } = await import("@fastify/cookie");
    const store: SessionStore = { name: "s", get: async () => null };
    const signer = new Signer(["k1", "k0"]);
    expect(() => sessionAuth({ store, secret: signer as unknown as string, signing: "fastify" })).toThrow(
      /signer object .* pass the keys the signer was built from/,
    );
  });
});

describe("sessionAuth and a store that declares its cookie", () => {
  const SECRET = "store-declared-secret";
  const seen: { id: string; cookieName: string | undefined }[] = [];
  const store: SessionStore<{ owner: string }> = {
    name: "declaring",
    cookie: { names: ["__Secure-own.token", "own.token"], signing: "better-auth", secrets: [SECRET] },
    identify: (session) => session.owner,
    get: async (id: string, options: StoreGetOptions) => {
      seen.push({ id, cookieName: options.cookieName });
      return { session: { owner: `user-of-${id}` } };
    },
  };
  const request = (cookie: string) => ({ headers: { host: "h", cookie }, url: "/" }) as unknown as IncomingMessage;

  it("needs no name, signing or secret, identifies through the store, and tells get() the name read", async () => {
    const auth = sessionAuth({ store });
    const cookie = signSessionCookie({ value: "t1", secret: SECRET, name: "own.token", signing: "better-auth" });
    const result = await auth.authenticate(request(cookie));
    expect(result).toMatchObject({ sessionId: "t1", userId: "user-of-t1", secretIndex: 0 });
    expect(seen.at(-1)).toEqual({ id: "t1", cookieName: "own.token" });
  });

  it("lets sessionAuth's own options win", async () => {
    const auth = sessionAuth({ store, name: "renamed", secret: "mine", identify: () => "me" });
    const cookie = signSessionCookie({ value: "t2", secret: "mine", name: "renamed", signing: "better-auth" });
    expect(await auth.authenticate(request(cookie))).toMatchObject({ sessionId: "t2", userId: "me" });
    await expect(
      auth.authenticate(
        request(signSessionCookie({ value: "t2", secret: SECRET, name: "renamed", signing: "better-auth" })),
      ),
    ).rejects.toMatchObject({ code: "BAD_SIGNATURE" });
  });

  it("refuses a secret given to sessionAuth for a store that verifies its cookie itself", () => {
    const selfVerifying: SessionStore = { ...store, cookie: { names: ["jwt"], signing: "none" } } as SessionStore;
    expect(() => sessionAuth({ store: selfVerifying, secret: "x" })).toThrow(/give the secret to the store/);
    expect(() => sessionAuth({ store: selfVerifying })).not.toThrow();
  });

  it("refuses a malformed declaration at construction", () => {
    const bad = (cookie: unknown) => () =>
      sessionAuth({ store: { name: "bad", get: async () => null, cookie } as unknown as SessionStore });
    expect(bad({ names: [], signing: "none" })).toThrow(/without `names`/);
    expect(bad({ names: ["a b"], signing: "none" })).toThrow(/must be a cookie name/);
    expect(bad({ names: ["a"], signing: "rot13" })).toThrow(/unknown `signing`/);
    expect(bad({ names: ["a"], signing: "better-auth" })).toThrow(/`secret` is required/);
    expect(bad({ names: ["a"], signing: "keygrip", secrets: ["k"], chunked: true })).toThrow(/chunked/);
  });
});
