import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { createOriginCheck } from "../../../src/origin.js";

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("default origin policy: same host, or no Origin at all", () => {
  const check = createOriginCheck(undefined);
  it.each([
    [{ host: "app.example.com" }, true],
    [{ host: "app.example.com", origin: "https://app.example.com" }, true],
    [{ host: "app.example.com:443", origin: "https://app.example.com" }, true],
    [{ host: "app.example.com", origin: "http://app.example.com:80" }, true],
    [{ host: "APP.example.com", origin: "https://app.EXAMPLE.com" }, true],
    [{ host: "127.0.0.1:3000", origin: "http://127.0.0.1:3000" }, true],
    [{ host: "[::1]:3000", origin: "http://[::1]:3000" }, true],
    [{ host: "app.example.com", origin: "https://evil.example" }, false],
    [{ host: "app.example.com", origin: "https://app.example.com.evil.example" }, false],
    [{ host: "app.example.com:3000", origin: "https://app.example.com" }, false],
    [{ host: "app.example.com", origin: "null" }, false],
    [{ host: "app.example.com", origin: "file://" }, false],
    [{ origin: "https://app.example.com" }, false],
    [{ host: "app.example.com/evil", origin: "https://app.example.com" }, false],
    // The Origin equal to scheme + Host, character for character, yet not the same origin (the quick
    // comparison must not pass these; the URL parse decides).
    [{ host: "app.example.com/evil", origin: "https://app.example.com/evil" }, false],
    [{ host: "app.example.com:99999", origin: "http://app.example.com:99999" }, false],
    [{ host: "1.2.3.999", origin: "http://1.2.3.999" }, false],
    [{ host: "256.1.1.1", origin: "http://256.1.1.1" }, false],
    [{ host: "09", origin: "http://09" }, false],
    [{ host: "localhost:5173", origin: "http://localhost:5173" }, true],
    [{ host: "localhost:65535", origin: "http://localhost:65535" }, true],
  ])("%o → %s", (headers, expected) => expect(check(req(headers))).toBe(expected));
});

describe("an origins list", () => {
  const check = createOriginCheck(["https://app.example.com", "http://localhost:5173/"]);
  it.each([
    [{ host: "rt.example.com", origin: "https://app.example.com" }, true],
    [{ host: "rt.example.com", origin: "https://app.example.com:443" }, true],
    [{ host: "rt.example.com", origin: "http://localhost:5173" }, true],
    [{ host: "rt.example.com" }, true],
    [{ host: "rt.example.com", origin: "https://rt.example.com" }, false],
    [{ host: "rt.example.com", origin: "http://app.example.com" }, false],
    [{ host: "rt.example.com", origin: "null" }, false],
  ])("%o → %s", (headers, expected) => expect(check(req(headers))).toBe(expected));

  it("refuses entries that are not origins when built", () => {
    expect(() => createOriginCheck(["app.example.com"])).toThrow(TypeError);
    expect(() => createOriginCheck(["https://app.example.com/path"])).toThrow(TypeError);
    expect(() => createOriginCheck(["https://app.example.com?x=1"])).toThrow(TypeError);
    expect(() => createOriginCheck([42 as unknown as string])).toThrow(TypeError);
  });
});

describe("an origins function", () => {
  it("receives the Origin (undefined when absent) and the request", () => {
    const seen: Array<string | undefined> = [];
    const check = createOriginCheck((origin) => (seen.push(origin), origin === "https://ok.example"));
    expect(check(req({ origin: "https://ok.example" }))).toBe(true);
    expect(check(req({}))).toBe(false);
    expect(seen).toEqual(["https://ok.example", undefined]);
  });
});
