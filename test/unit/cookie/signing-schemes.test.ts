import { createHmac } from "node:crypto";
import { sign } from "cookie-signature";
import { describe, expect, it } from "vitest";
import { createCookieReader, type CookieReaderOptions } from "../../../src/cookies.js";
import { SessionAuthError } from "socket.io-session-auth";
import { signSessionCookie } from "socket.io-session-auth/testing";

// The id and secret index as before; which name was read is checked in store-declared-cookie.test.ts.
const reader = (options: Partial<CookieReaderOptions> = {}) => {
  const read = createCookieReader({
    name: "connect.sid",
    signing: "express",
    secrets: ["current", "previous"],
    algorithm: "sha1",
    ...options,
  });
  return (header: string | undefined) => {
    const { id, secretIndex } = read(header);
    return { id, secretIndex };
  };
};

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SessionAuthError);
    return (error as SessionAuthError).code;
  }
  return "ACCEPTED";
}

// A real express-session cookie as captured on the wire: its mac holds '+' (encoded %2B), which a
// decoder that turned '+' into a space would break.
const SID = "RnUR71TLHdXwSpKnNia2gRrPvT08Ktf-";
const expressValue = (secret: string, sid = SID) => encodeURIComponent(`s:${sign(sid, secret)}`);

describe("express scheme", () => {
  it("verifies the URL-encoded s:<id>.<mac> with every secret of the list, and says which", () => {
    expect(reader()(`connect.sid=${expressValue("current")}`)).toEqual({ id: SID, secretIndex: 0 });
    expect(reader()(`connect.sid=${expressValue("previous")}`)).toEqual({ id: SID, secretIndex: 1 });
  });

  it("accepts the raw, un-encoded form too (express-session does)", () => {
    expect(reader()(`connect.sid=s:${sign(SID, "current")}`).id).toBe(SID);
  });

  it("keeps '+' as '+' when the value is encoded, and when it is raw", () => {
    const sid = "a+b";
    expect(reader()(`connect.sid=${encodeURIComponent(`s:${sign(sid, "current")}`)}`).id).toBe(sid);
    expect(reader()(`connect.sid=s:${sign(sid, "current")}`).id).toBe(sid);
  });

  it("splits at the last dot, so ids with dots (custom genid) work", () => {
    const sid = "user.42.abc";
    expect(reader()(`connect.sid=${expressValue("current", sid)}`).id).toBe(sid);
  });

  it("of several cookies with its name, accepts the first that verifies and never one that does not", () => {
    const good = `connect.sid=${expressValue("current")}`;
    const bad = `connect.sid=${expressValue("stranger", "other-apps-id")}`;
    expect(reader()(`${good}; ${bad}`).id).toBe(SID);
    // Another app on a parent domain: its cookie comes first (browsers send the longer path first).
    expect(reader()(`${bad}; ${good}`)).toEqual({ id: SID, secretIndex: 0 });
    expect(reader()(`connect.sid=plain-value; ${good}`).id).toBe(SID);
    expect(reader()(`connect.sid=; other=1; ${good}`).id).toBe(SID);
  });

  it("when no same-named cookie verifies, refuses and says how many came", () => {
    const bad = `connect.sid=${expressValue("stranger")}`;
    expect(codeOf(() => reader()(`${bad}; connect.sid=plain`))).toBe("BAD_SIGNATURE");
    expect(codeOf(() => reader()("connect.sid=plain; connect.sid=other"))).toBe("MALFORMED_COOKIE");
    expect(() => reader()(`${bad}; ${bad}`)).toThrow(/2 cookies named "connect.sid" came/);
  });

  it("tries a bounded number of same-named cookies", () => {
    const bad = `connect.sid=${expressValue("stranger")}`;
    const good = `connect.sid=${expressValue("current")}`;
    expect(reader()(`${[bad, bad, bad].join("; ")}; ${good}`).id).toBe(SID);
    expect(codeOf(() => reader()(`${[bad, bad, bad, bad].join("; ")}; ${good}`))).toBe("BAD_SIGNATURE");
  });

  it("reads a value in RFC 6265 double quotes, as express-session's cookie parser does", () => {
    expect(reader()(`connect.sid="${expressValue("current")}"`)).toEqual({ id: SID, secretIndex: 0 });
    expect(reader()(`connect.sid="s:${sign(SID, "current")}"`).id).toBe(SID);
    // One pair only, and only a pair: a lone quote is part of the value.
    expect(codeOf(() => reader()(`connect.sid=""${expressValue("current")}""`))).toBe("MALFORMED_COOKIE");
    expect(codeOf(() => reader()(`connect.sid="${expressValue("current")}`))).toBe("MALFORMED_COOKIE");
    // No hint at the fastify scheme for a quoted express cookie.
    expect(() => reader()(`connect.sid=""${expressValue("current")}""`)).not.toThrow(/fastify/);
  });

  it("sorts failures into the documented codes", () => {
    expect(codeOf(() => reader()(undefined))).toBe("NO_SESSION_COOKIE");
    expect(codeOf(() => reader()(""))).toBe("NO_SESSION_COOKIE");
    expect(codeOf(() => reader()("other=1"))).toBe("NO_SESSION_COOKIE");
    expect(codeOf(() => reader()("connect.sid="))).toBe("MALFORMED_COOKIE");
    expect(codeOf(() => reader()(`connect.sid=${SID}`))).toBe("MALFORMED_COOKIE");
    expect(codeOf(() => reader()("connect.sid=s%3A.abc"))).toBe("MALFORMED_COOKIE");
    expect(codeOf(() => reader()("connect.sid=s%3Aabc."))).toBe("MALFORMED_COOKIE");
    expect(codeOf(() => reader()("connect.sid=s%3Aabc%ZZ.def"))).toBe("MALFORMED_COOKIE");
    expect(codeOf(() => reader()(`connect.sid=${expressValue("stranger")}`))).toBe("BAD_SIGNATURE");
    expect(codeOf(() => reader()(`connect.sid=${expressValue("current").slice(0, -1)}`))).toBe("BAD_SIGNATURE");
  });

  it("names the cookies present (never their values) when the expected one is missing", () => {
    try {
      reader()("theme=dark-secret-value; io=xyz");
    } catch (error) {
      expect((error as Error).message).toContain('"theme", "io"');
      expect((error as Error).message).not.toContain("dark-secret-value");
    }
  });

  it("hints at the fastify scheme when the cookie looks like one", () => {
    expect(() => reader()(`connect.sid=${sign(SID, "current")}`)).toThrow(/signing: "fastify"/);
  });
});

describe("fastify scheme", () => {
  const fastify = reader({ name: "sessionId", signing: "fastify" });
  it("verifies <id>.<mac> without s:, raw or encoded", () => {
    expect(fastify(`sessionId=${sign(SID, "current")}`)).toEqual({ id: SID, secretIndex: 0 });
    expect(fastify(`sessionId=${encodeURIComponent(sign(SID, "previous"))}`)).toEqual({ id: SID, secretIndex: 1 });
    expect(codeOf(() => fastify(`sessionId=${sign(SID, "stranger")}`))).toBe("BAD_SIGNATURE");
  });

  it("does not strip quotes, as @fastify/cookie does not", () => {
    expect(codeOf(() => fastify(`sessionId="${sign(SID, "current")}"`))).toBe("BAD_SIGNATURE");
  });

  it("accepts the first same-named cookie that verifies", () => {
    expect(fastify(`sessionId=${sign("x", "stranger")}; sessionId=${sign(SID, "current")}`).id).toBe(SID);
  });
});

describe("keygrip scheme", () => {
  const keygrip = reader({ name: "session", signing: "keygrip", secrets: ["key-new", "key-old"] });
  // 26 bytes of JSON: base64 with one "=" of padding, which must not be URL-decoded or stripped.
  const value = Buffer.from(JSON.stringify({ user: { id: 42 }, p: "x" })).toString("base64");
  const sig = (key: string, v = value, algorithm = "sha1") =>
    createHmac(algorithm, key).update(`session=${v}`).digest("base64url");

  it("verifies <name>.sig over the raw name=value, with any key", () => {
    expect(keygrip(`session=${value}; session.sig=${sig("key-new")}`)).toEqual({ id: value, secretIndex: 0 });
    expect(keygrip(`session.sig=${sig("key-old")}; session=${value}`)).toEqual({ id: value, secretIndex: 1 });
  });

  it("does not URL-decode the value before verifying", () => {
    const encoded = encodeURIComponent(value);
    expect(encoded).not.toBe(value);
    expect(codeOf(() => keygrip(`session=${encoded}; session.sig=${sig("key-new")}`))).toBe("BAD_SIGNATURE");
  });

  it("refuses a missing .sig and an edited payload", () => {
    expect(codeOf(() => keygrip(`session=${value}`))).toBe("BAD_SIGNATURE");
    const edited = Buffer.from(JSON.stringify({ user: { id: 1 } })).toString("base64");
    expect(codeOf(() => keygrip(`session=${edited}; session.sig=${sig("key-new")}`))).toBe("BAD_SIGNATURE");
  });

  it("strips a leading double quote the way the cookies package does", () => {
    expect(keygrip(`session="${value}"; session.sig="${sig("key-new")}"`)).toEqual({ id: value, secretIndex: 0 });
  });

  it("of several same-named cookies and signatures, accepts a value its own signature verifies", () => {
    const other = Buffer.from(JSON.stringify({ user: { id: 7 } })).toString("base64");
    const header = `session=${other}; session.sig=${sig("stranger", other)}; session=${value}; session.sig=${sig("key-old")}`;
    expect(keygrip(header)).toEqual({ id: value, secretIndex: 1 });
    expect(codeOf(() => keygrip(`session=${other}; session.sig=${sig("stranger", other)}; session=${value}`))).toBe(
      "BAD_SIGNATURE",
    );
    // Not fooled by a name that merely ends with the cookie's name.
    expect(codeOf(() => keygrip(`xsession=${value}; session.sig=${sig("key-new")}`))).toBe("NO_SESSION_COOKIE");
  });

  it("supports sha256 and sha512 keygrip digests", () => {
    for (const algorithm of ["sha256", "sha512"] as const) {
      const strong = reader({ name: "session", signing: "keygrip", secrets: ["k"], algorithm });
      expect(strong(`session=${value}; session.sig=${sig("k", value, algorithm)}`).id).toBe(value);
      expect(codeOf(() => strong(`session=${value}; session.sig=${sig("k")}`))).toBe("BAD_SIGNATURE");
    }
  });
});

describe("none scheme", () => {
  it("takes the value as the id, decoded where encoded", () => {
    const none = reader({ signing: "none", secrets: [] });
    expect(none("connect.sid=abc%20def")).toEqual({ id: "abc def", secretIndex: -1 });
  });
});

describe("signSessionCookie (the testing helper) writes what the libraries write", () => {
  it("round-trips through every scheme", () => {
    for (const signing of ["express", "fastify", "keygrip"] as const) {
      const header = signSessionCookie({ value: "some-id", secret: ["current", "previous"], signing, name: "n" });
      expect(reader({ name: "n", signing })(header)).toEqual({ id: "some-id", secretIndex: 0 });
    }
  });

  it("matches express-session's encoding byte for byte", () => {
    expect(signSessionCookie({ value: SID, secret: "current" })).toBe(`connect.sid=${expressValue("current")}`);
  });
});
