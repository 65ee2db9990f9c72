import { sealData } from "iron-session8";
import { describe, expect, it, vi } from "vitest";
import type { StoreGetOptions } from "socket.io-session-auth";
import { ironSessionStore } from "socket.io-session-auth/iron-session";

// The socket.io server of an app still on iron-session 8 (Node 20, CommonJS) has v8 installed: the
// adapter's `import("iron-session")` loads that version here. v8's unsealData never says why a seal
// failed (no onUnsealError) and answers {} for every failure it recognises.
vi.mock("iron-session", async () => await import("iron-session8"));

const PASSWORD = "complex_password_at_least_32_characters_long";

function call() {
  const reports: unknown[] = [];
  const options: StoreGetOptions = { signal: new AbortController().signal, report: (c) => void reports.push(c) };
  return { options, reports };
}

describe("ironSessionStore with iron-session 8 installed", () => {
  it("unseals with v8's own unsealData; rotation maps, expiry and failures as with v9", async () => {
    expect("nodeCookies" in (await import("iron-session"))).toBe(false); // v9 has it: the swap took
    const store = ironSessionStore({ password: { 1: "x".repeat(32), 2: PASSWORD }, cookieName: "s" });
    const value = await sealData({ userId: "7" }, { password: { 2: PASSWORD }, ttl: 60 });
    const record = await store.get(value, call().options);
    expect(record?.session).toEqual({ userId: "7" });
    expect(record!.expires!.getTime()).toBeGreaterThan(Date.now());

    const wrong = call();
    expect(await ironSessionStore({ password: "y".repeat(32), cookieName: "s" }).get(value, wrong.options)).toBeNull();
    expect(String(wrong.reports[0])).toMatch(/no session .*check `password`/);

    const malformed = call();
    const parts = value.split("*");
    expect(await store.get([...parts.slice(0, 5), "1x", ...parts.slice(6)].join("*"), malformed.options)).toBeNull();
    expect(malformed.reports).toHaveLength(1);

    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 3_600_000 });
    try {
      const expired = await store.get(value, call().options);
      expect(expired!.expires!.getTime()).toBeLessThan(Date.now());
    } finally {
      vi.useRealTimers();
    }
  });
});
