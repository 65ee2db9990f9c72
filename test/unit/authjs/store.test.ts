import { encode as encodeV5 } from "@auth/core/jwt";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import type { StoreGetOptions } from "socket.io-session-auth";
import { authjsStore } from "socket.io-session-auth/authjs";

// next-auth 4 is CommonJS; required so that its types (which pull in Next.js's) stay out of the program.
const { encode: encodeV4 } = createRequire(import.meta.url)("next-auth/jwt") as {
  encode(params: { token: Record<string, unknown>; secret: string; maxAge?: number }): Promise<string>;
};

const SECRET = "the web app's AUTH_SECRET, 32+ characters long";
const OLD_SECRET = "the secret before the last rotation, also long";
const V5 = "authjs.session-token";
const V5_SECURE = "__Secure-authjs.session-token";
const USER = { sub: "user-42", name: "Ada", email: "ada@example.com", picture: null };

/** A get() as the core makes it: reports collected, and the cookie name read when the core knows it. */
function call(cookieName?: string) {
  const reports: unknown[] = [];
  const options: StoreGetOptions & { cookieName?: string } = {
    signal: new AbortController().signal,
    report: (cause) => void reports.push(cause),
  };
  if (cookieName !== undefined) options.cookieName = cookieName;
  return { options, reports };
}

describe("authjsStore, Auth.js v5 JWT sessions", () => {
  it("decodes a cookie written by @auth/core's own encode: the claims, exp as expires, sub as the user", async () => {
    const token = await encodeV5({ token: USER, secret: SECRET, salt: V5, maxAge: 3600 });
    const store = authjsStore({ secret: SECRET });
    const { options, reports } = call(V5);
    const record = await store.get(token, options);
    expect(reports).toEqual([]);
    expect(record?.session).toMatchObject(USER);
    const exp = record!.session.exp!;
    expect(record?.expires).toEqual(new Date(exp * 1000));
    expect(Math.abs(exp - (Date.now() / 1000 + 3600))).toBeLessThan(5);
    expect(store.identify(record!.session)).toBe("user-42");
    expect(store.cookie).toEqual({
      names: [V5_SECURE, V5, "__Secure-next-auth.session-token", "next-auth.session-token"],
      signing: "none",
      chunked: true,
    });
    expect(store.name).toBe("authjs (v5, jwt)");
  });

  it("the cookie name is the salt: a __Secure- cookie decodes under its own name, with or without the name given", async () => {
    const token = await encodeV5({ token: USER, secret: SECRET, salt: V5_SECURE });
    const store = authjsStore({ secret: SECRET });
    expect((await store.get(token, call(V5_SECURE).options))?.session.sub).toBe("user-42");
    expect((await store.get(token, call().options))?.session.sub).toBe("user-42"); // each name tried
    const wrong = call(V5);
    expect(await store.get(token, wrong.options)).toBeNull(); // read under the plain name: not that key
    expect(String(wrong.reports[0])).toMatch(/could not decrypt.*AUTH_SECRET/);
  });

  it("rotation: every secret of the array is tried; a missing one is reported naming AUTH_SECRET", async () => {
    const token = await encodeV5({ token: USER, secret: OLD_SECRET, salt: V5 });
    expect((await authjsStore({ secret: [SECRET, OLD_SECRET] }).get(token, call(V5).options))?.session.sub).toBe(
      "user-42",
    );
    const { options, reports } = call(V5);
    expect(await authjsStore({ secret: SECRET }).get(token, options)).toBeNull();
    expect(reports).toHaveLength(1);
    expect((reports[0] as Error).message).toMatch(/could not decrypt the session cookie.*AUTH_SECRET/);
    expect((reports[0] as Error).message).not.toContain(SECRET);
  });

  it("an authentic token past its exp is a record that has expired (the core refuses SESSION_EXPIRED)", async () => {
    const token = await encodeV5({ token: USER, secret: SECRET, salt: V5, maxAge: -60 });
    const record = await authjsStore({ secret: SECRET }).get(token, call(V5).options);
    expect(record).not.toBeNull();
    expect(record!.expires!.getTime()).toBeLessThan(Date.now());
  });

  it("secure: true reads only the __Secure- name, false only the plain one; cookieName replaces both", () => {
    const v4names = ["__Secure-next-auth.session-token", "next-auth.session-token"];
    expect(authjsStore({ secret: SECRET, secure: true }).cookie.names).toEqual([V5_SECURE, ...v4names]);
    expect(authjsStore({ secret: SECRET, secure: false }).cookie.names).toEqual([V5, ...v4names]);
    expect(authjsStore({ secret: SECRET, cookieName: "my-app.session" }).cookie.names).toEqual(["my-app.session"]);
  });

  it("garbage, truncated and edited cookies resolve null with a report, never a throw", async () => {
    const token = await encodeV5({ token: USER, secret: SECRET, salt: V5 });
    const store = authjsStore({ secret: SECRET });
    const hostile = [
      "x",
      "a.b.c.d.e",
      token.slice(0, -10),
      token.slice(0, token.length / 2),
      token.replace(/\.[^.]+\./, ".AAAA."),
      `${token}.extra`,
      "eyJhbGciOiJub25lIn0.eyJzdWIiOiI0MiJ9.", // an unsecured JWT (alg none) claiming a user
      "e".repeat(40_000),
      "",
    ];
    for (const value of hostile) {
      const { options, reports } = call(V5);
      await expect(store.get(value, options)).resolves.toBeNull();
      expect(reports).toHaveLength(1);
      expect(String(reports[0])).not.toContain(value.slice(0, 30) || "\0");
    }
  });

  it("canonicalId: every spelling of a token that decodes alike is the token Auth.js wrote; anything else is itself", async () => {
    const token = await encodeV5({ token: USER, secret: SECRET, salt: V5, maxAge: 3600 });
    const store = authjsStore({ secret: SECRET });
    expect(store.canonicalId!(token)).toBe(token);
    // The tag (32 bytes, 43 characters) ends in a character whose 2 low bits are unused: flipping the
    // lowest gives another spelling that jose decrypts all the same.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const respelled = token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 1]!;
    expect(respelled).not.toBe(token);
    const { options, reports } = call(V5);
    expect((await store.get(respelled, options))?.session).toMatchObject(USER);
    expect(reports).toEqual([]);
    expect(store.canonicalId!(respelled)).toBe(token);
    // A real edit is not folded into the token: it stays itself, and does not decrypt.
    const edited = token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 4]!;
    expect(store.canonicalId!(edited)).toBe(edited);
    for (const other of ["", "not a token", "a.b.c", `${token}.extra`, "a.b.c.d.e!"])
      expect(store.canonicalId!(other)).toBe(other);
    // The protected header is the encryption's additional data as text: another spelling of it does not
    // decrypt, and stays itself rather than becoming the token that does.
    const [header, ...rest] = token.split(".");
    const headerRespelled = [header!.slice(0, -1) + alphabet[alphabet.indexOf(header!.at(-1)!) ^ 1]!, ...rest].join(
      ".",
    );
    if (header!.length % 4 !== 0) {
      expect(store.canonicalId!(headerRespelled)).toBe(headerRespelled);
      expect(await store.get(headerRespelled, call(V5).options)).toBeNull();
    }
  });

  it("a replaced jwt.decode is used as given", async () => {
    const store = authjsStore({
      secret: SECRET,
      decode: ({ token, salt }) => (token === "custom" ? { sub: "7", salt } : null),
    });
    expect((await store.get("custom", call(V5).options))?.session).toEqual({ sub: "7", salt: V5 });
    expect(await store.get("other", call(V5).options)).toBeNull();
  });

  it("a NextAuth v4 cookie where v5 is expected (and the reverse) is declared only to be diagnosed, never decoded", async () => {
    const v4token = await encodeV4({ token: USER, secret: SECRET });
    const v5 = call("next-auth.session-token");
    expect(await authjsStore({ secret: SECRET }).get(v4token, v5.options)).toBeNull();
    expect(String(v5.reports[0])).toMatch(
      /NextAuth\.js v4 session cookie \("next-auth\.session-token"\).*`version: 4`/,
    );
    const v5token = await encodeV5({ token: USER, secret: SECRET, salt: V5 });
    const v4 = call(V5);
    expect(await authjsStore({ secret: SECRET, version: 4 }).get(v5token, v4.options)).toBeNull();
    expect(String(v4.reports[0])).toMatch(/Auth\.js v5 session cookie.*`version: 5`/);
    expect(authjsStore({ secret: SECRET, version: 4 }).cookie.names).toEqual([
      "__Secure-next-auth.session-token",
      "next-auth.session-token",
      V5_SECURE,
      V5,
    ]);
  });
});

describe("authjsStore, NextAuth v4 JWT sessions", () => {
  it("decodes a cookie written by next-auth/jwt's encode, and tries each secret in turn", async () => {
    const token = await encodeV4({ token: USER, secret: OLD_SECRET, maxAge: 600 });
    const store = authjsStore({ secret: [SECRET, OLD_SECRET], version: 4 });
    const { options, reports } = call("next-auth.session-token");
    const record = await store.get(token, options);
    expect(reports).toEqual([]);
    expect(record?.session).toMatchObject(USER);
    expect(record?.expires).toEqual(new Date(record!.session.exp! * 1000));
    expect(store.name).toBe("authjs (v4, jwt)");
  });

  it("a v4 token is not readable as v5 (nor the reverse): reported, naming the version", async () => {
    const v4token = await encodeV4({ token: USER, secret: SECRET });
    const asV5 = call(V5);
    expect(await authjsStore({ secret: SECRET }).get(v4token, asV5.options)).toBeNull();
    expect(String(asV5.reports[0])).toMatch(/check `version`/);
    const v5token = await encodeV5({ token: USER, secret: SECRET, salt: V5 });
    const asV4 = call("next-auth.session-token");
    expect(await authjsStore({ secret: SECRET, version: 4 }).get(v5token, asV4.options)).toBeNull();
    expect(asV4.reports).toHaveLength(1);
  });

  it("an expired v4 token is a record that has expired", async () => {
    const token = await encodeV4({ token: USER, secret: SECRET, maxAge: -60 });
    const record = await authjsStore({ secret: SECRET, version: 4 }).get(token, call().options);
    expect(record!.expires!.getTime()).toBeLessThanOrEqual(Date.now());
  });
});

describe("authjsStore options", () => {
  it.each([
    [undefined, /pass an options object/],
    [{}, /JWT sessions need `secret`.*AUTH_SECRET/],
    [{ secret: "" }, /got an empty string/],
    [{ secret: [] }, /`secret`/],
    [{ secret: SECRET, version: 3 }, /`version` must be 5.*or 4.*; got 3\./],
    [{ secret: SECRET, secure: "yes" }, /`secure` must be true, false or "auto"; got "yes"\./],
    [{ secret: SECRET, strategy: [] }, /`strategy` must be "jwt" or "database"; got an array\./],
    [{ secret: SECRET, cookieName: "a b" }, /`cookieName` must be a cookie name/],
    [{ secret: SECRET, salt: "x" }, /unknown option `salt`: Auth.js salts with the cookie name/],
    [{ secret: SECRET, providers: [] }, /unknown option `providers`/],
    [{ strategy: "database" }, /database sessions need `adapter`/],
    [{ adapter: {} }, /database sessions need `adapter`/],
    [{ getSessionAndUser: () => null }, /that is an Auth.js adapter; pass it as an option/],
    [{ secret: SECRET, decode: "x" }, /`decode` must be/],
  ])("%j is a TypeError naming the fix", (options, message) => {
    expect(() => authjsStore(options as never)).toThrow(TypeError);
    expect(() => authjsStore(options as never)).toThrow(message);
  });

  it("never quotes the secret in a message", () => {
    try {
      authjsStore({ secret: SECRET, version: 6 as never });
    } catch (error) {
      expect(String(error)).not.toContain(SECRET);
    }
  });
});
