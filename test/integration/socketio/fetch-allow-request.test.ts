import { expect, it } from "vitest";
import { fetchAllowRequest, sessionAuth, type SessionAuthError, type SessionStore } from "socket.io-session-auth";
import { signSessionCookie } from "socket.io-session-auth/testing";

// socket.io's Bun engine calls allowRequest(req: Request) and awaits it. Bun does not install here: the
// same WHATWG Request, Node's own, goes through the whole check against a real store contract.

const sessions = new Map([["sid", { userId: "7" }]]);
const store: SessionStore = {
  name: "map",
  get: async (id) => (sessions.has(id) ? { session: sessions.get(id)! } : null),
};
const refusals: string[] = [];
const auth = sessionAuth({ store, secret: "s", onError: (error) => refusals.push(error.code) });
const allowRequest = fetchAllowRequest(auth);
const url = "https://app.example/socket.io/?EIO=4&transport=polling";

it("resolves for a valid session cookie", async () => {
  const cookie = signSessionCookie({ value: "sid", secret: "s" });
  await expect(allowRequest(new Request(url, { headers: { cookie, origin: "https://app.example" } }))).resolves.toBe(
    undefined,
  );
});

it("rejects with the SessionAuthError of the refusal, and onError hears of it", async () => {
  const unknown = signSessionCookie({ value: "nope", secret: "s" });
  const wrong = signSessionCookie({ value: "sid", secret: "not s" });
  const codeOf = (req: Request) =>
    allowRequest(req).then(
      () => "accepted",
      (error: SessionAuthError) => error.code,
    );
  expect(await codeOf(new Request(url))).toBe("NO_SESSION_COOKIE");
  expect(await codeOf(new Request(url, { headers: { cookie: unknown } }))).toBe("SESSION_NOT_FOUND");
  expect(await codeOf(new Request(url, { headers: { cookie: wrong } }))).toBe("BAD_SIGNATURE");
  // The default Origin policy compares with the URL's host when no Host header came.
  const cookie = signSessionCookie({ value: "sid", secret: "s" });
  expect(await codeOf(new Request(url, { headers: { cookie, origin: "https://evil.example" } }))).toBe(
    "ORIGIN_NOT_ALLOWED",
  );
  expect(refusals).toEqual(["NO_SESSION_COOKIE", "SESSION_NOT_FOUND", "BAD_SIGNATURE", "ORIGIN_NOT_ALLOWED"]);
});
