import type { IncomingMessage } from "node:http";
import { sealData } from "iron-session";
import { describe, expect, it } from "vitest";
import { SessionAuthError, sessionAuth, type SessionStore } from "socket.io-session-auth";
import { ironSessionStore } from "socket.io-session-auth/iron-session";

const PASSWORD = "complex_password_at_least_32_characters_long";

const request = (cookie: string): IncomingMessage =>
  ({ headers: { host: "h", cookie }, url: "/socket.io/" }) as unknown as IncomingMessage;

describe("ironSessionStore.canonicalId: one id per seal", () => {
  const store = ironSessionStore({ password: PASSWORD, cookieName: "app" });
  const canonicalId = store.canonicalId!;

  it("maps a seal as iron-session wrote it to itself, and its suffix cut, changed or extended to it", async () => {
    const seal = await sealData({ userId: "42" }, { password: PASSWORD });
    const bare = seal.slice(0, seal.indexOf("~"));
    expect(canonicalId(seal)).toBe(seal);
    for (const copy of [bare, `${bare}~`, `${bare}~3`, `${seal}~junk`, `${seal}0`])
      expect(canonicalId(copy)).toBe(seal);
  });

  it("is idempotent, and leaves what is not a seal to get() to refuse", () => {
    for (const value of ["Fe26.2*x~9~9", "Fe26.2*", "not a seal", "~2", "Fe26.1*a~2"]) {
      expect(canonicalId(canonicalId(value))).toBe(canonicalId(value));
    }
    expect(canonicalId("not a seal")).toBe("not a seal");
    expect(canonicalId("Fe26.1*a~3")).toBe("Fe26.1*a~3");
  });
});

describe("the core and store.canonicalId", () => {
  const reads: string[] = [];
  const base = {
    name: "canonical",
    cookie: { names: ["sid"], signing: "none" as const },
    get: async (id: string) => {
      reads.push(id);
      return { session: { user: { id: 1 } }, expires: null };
    },
  };

  it("hands get() the canonical id, and the session id is it", async () => {
    reads.length = 0;
    const store: SessionStore = { ...base, canonicalId: (id) => id.split("~")[0]! };
    const result = await sessionAuth({ store }).authenticate(request("sid=abc~anything"));
    expect(result.sessionId).toBe("abc");
    expect(reads).toEqual(["abc"]);
  });

  it.each([
    [
      "throws",
      () => {
        throw new Error("boom");
      },
    ],
    ["returns an empty string", () => ""],
    ["returns a non-string", () => 42 as unknown as string],
  ])("a canonicalId that %s refuses the handshake as MALFORMED_COOKIE, never a crash or a lookup", async (_, hook) => {
    reads.length = 0;
    const store: SessionStore = { ...base, canonicalId: hook };
    const refusal = await sessionAuth({ store })
      .authenticate(request("sid=abc"))
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(SessionAuthError);
    expect((refusal as SessionAuthError).code).toBe("MALFORMED_COOKIE");
    expect(reads).toEqual([]);
  });
});
