import { sealData } from "iron-session";
import { sealData as sealDataV8 } from "iron-session8";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { StoreGetOptions } from "socket.io-session-auth";
import { ironSessionStore } from "socket.io-session-auth/iron-session";

const PASSWORD = "complex_password_at_least_32_characters_long";
const OLD_PASSWORD = "the_password_before_rotation_also_32_chars";
const SESSION = { user: { id: 42, name: "Ada" }, isLoggedIn: true };

function call() {
  const reports: unknown[] = [];
  const options: StoreGetOptions = { signal: new AbortController().signal, report: (c) => void reports.push(c) };
  return { options, reports };
}

afterEach(() => void vi.useRealTimers());

describe("ironSessionStore", () => {
  it.each([
    ["v9", sealData],
    ["v8", sealDataV8],
  ] as const)("unseals what iron-session %s's sealData writes; the seal's ttl is the expiry", async (_, seal) => {
    const value = await seal(SESSION, { password: PASSWORD, ttl: 3600 });
    expect(value).toMatch(/^Fe26\.2\*1\*.*~2$/);
    const store = ironSessionStore({ password: PASSWORD, cookieName: "app_session" });
    const { options, reports } = call();
    const record = await store.get(value, options);
    expect(reports).toEqual([]);
    expect(record?.session).toEqual(SESSION);
    expect(Math.abs(record!.expires!.getTime() - (Date.now() + 3_600_000))).toBeLessThan(5000);
    expect(store.cookie).toEqual({ names: ["app_session"], signing: "none", chunked: true });
  });

  it("a ttl of 0 seals without expiry: no expires", async () => {
    const value = await sealData(SESSION, { password: PASSWORD, ttl: 0 });
    expect((await ironSessionStore({ password: PASSWORD, cookieName: "s" }).get(value, call().options))?.expires).toBe(
      null,
    );
  });

  it("rotation: a password map unseals seals of every id; an id missing from the map is reported", async () => {
    const old = await sealData(SESSION, { password: { 1: OLD_PASSWORD } });
    const fresh = await sealData(SESSION, { password: { 1: OLD_PASSWORD, 2: PASSWORD } });
    const both = ironSessionStore({ password: { 1: OLD_PASSWORD, 2: PASSWORD }, cookieName: "s" });
    expect((await both.get(old, call().options))?.session).toEqual(SESSION);
    expect((await both.get(fresh, call().options))?.session).toEqual(SESSION);
    const newOnly = ironSessionStore({ password: { 2: PASSWORD }, cookieName: "s" });
    const { options, reports } = call();
    expect(await newOnly.get(old, options)).toBeNull();
    expect(String(reports[0])).toMatch(/password id that is not in `password`/);
    // A plain string is iron-session's { 1: string }.
    expect(
      (await ironSessionStore({ password: OLD_PASSWORD, cookieName: "s" }).get(old, call().options))?.session,
    ).toEqual(SESSION);
  });

  it("a seal past its ttl is a record that has expired (the core refuses SESSION_EXPIRED)", async () => {
    const value = await sealData(SESSION, { password: PASSWORD, ttl: 120 });
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 3_600_000 });
    const record = await ironSessionStore({ password: PASSWORD, cookieName: "s" }).get(value, call().options);
    expect(record?.session).toEqual({});
    expect(record!.expires!.getTime()).toBeLessThan(Date.now());
  });

  it("a wrong password, an edited, truncated or foreign cookie resolves null with a report", async () => {
    const value = await sealData(SESSION, { password: PASSWORD });
    const store = ironSessionStore({ password: PASSWORD, cookieName: "s" });
    const other = ironSessionStore({ password: OLD_PASSWORD, cookieName: "s" });
    const wrong = call();
    expect(await other.get(value, wrong.options)).toBeNull();
    expect(String(wrong.reports[0])).toMatch(/could not unseal|no session/);
    const parts = value.split("*");
    const hostile = [
      value.slice(0, -20),
      value.slice(0, value.length / 2),
      [...parts.slice(0, 4), `A${parts[4]!.slice(1)}`, ...parts.slice(5)].join("*"),
      [...parts.slice(0, 5), "99999999999999", ...parts.slice(6)].join("*"), // a later expiry, same HMAC
      [...parts.slice(0, 5), "1x", ...parts.slice(6)].join("*"),
      "Fe26.2*1*a*b*c*d*e*f*g",
      "Fe26.2*" + "*".repeat(20_000),
      "Fe26.1*1*a*b*c**e*f",
      "not a seal",
      `${"Fe26.2*1*".repeat(3000)}`,
      "",
    ];
    for (const cookie of hostile) {
      const { options, reports } = call();
      const record = await store.get(cookie, options);
      // Never the session: at most a record that has already expired (the 99999… expiry is not).
      if (record !== null) expect(record.expires!.getTime()).toBeLessThan(Date.now());
      else expect(reports).toHaveLength(1);
    }
    // What follows the `~` sits outside the seal's HMAC and iron-session ignores it: the seal before it
    // is still the genuine session, never another one.
    expect((await store.get(`${value}${value}`, call().options))?.session).toEqual(SESSION);
  });

  it.each([
    [undefined, /pass the web app's iron-session options/],
    [{ password: PASSWORD }, /`cookieName` must be/],
    [{ cookieName: "s" }, /`password` must be a string of at least 32/],
    [{ cookieName: "s", password: "short" }, /shorter than 32/],
    [{ cookieName: "s", password: {} }, /empty map/],
    [{ cookieName: "s", password: { a: PASSWORD } }, /ids must be integers/],
    [{ cookieName: "s", password: { 1: "short" } }, /id 1 is not a string of at least 32/],
    [{ cookieName: "s", password: PASSWORD, ttl: 60 }, /unknown option `ttl`: the seal carries its own expiry/],
  ])("%j is a TypeError naming the fix", (options, message) => {
    expect(() => ironSessionStore(options as never)).toThrow(TypeError);
    expect(() => ironSessionStore(options as never)).toThrow(message);
  });
});
