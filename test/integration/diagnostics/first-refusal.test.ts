import { sign } from "cookie-signature";
import session from "express-session";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { sessionAuth, type SessionAuthOptions } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { refusal, startRealtime } from "../../support/realtime.js";

// DESIGN Core, "Nothing is silent by default": wired as the README shows, with neither DEBUG nor onError,
// the first refusal of each code prints one line to stderr outside production, and nothing in production.

const SECRET = "keyboard cat";
const SESSION_ID = "a-session-id-that-must-never-be-printed";
const opened: Array<{ close(): unknown }> = [];
let printed: string[];
const nodeEnv = process.env.NODE_ENV;

beforeEach(() => {
  printed = [];
  const write = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes("socket.io-session-auth")) {
      printed.push(text);
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  process.env.NODE_ENV = nodeEnv;
  for (const each of opened.splice(0).reverse()) await each.close();
});

async function serve(options: Partial<SessionAuthOptions> = {}) {
  const auth = sessionAuth({
    store: memoryStore(new session.MemoryStore()),
    secret: SECRET,
    ...options,
  } as SessionAuthOptions);
  const realtime = await startRealtime((io) => void auth.attach(io));
  opened.push(realtime, auth);
  return realtime;
}

const wrongSecretCookie = `connect.sid=${encodeURIComponent("s:" + sign(SESSION_ID, "not the secret"))}`;

describe("the first refusal of each code is said once on stderr", () => {
  it("BAD_SIGNATURE: one line saying what happened and how to see more, then nothing for the same code", async () => {
    process.env.NODE_ENV = "development";
    const { url } = await serve();
    expect((await refusal(url, { cookie: wrongSecretCookie })).message).toBe("BAD_SIGNATURE");
    expect(printed).toHaveLength(1);
    const [line] = printed as [string];
    expect(line).toMatch(/^socket\.io-session-auth: refused a handshake: BAD_SIGNATURE: .+\n$/);
    expect(line.trimEnd()).not.toContain("\n");
    expect(line).toContain("DEBUG=socket.io-session-auth");
    expect(line).toContain("onError");
    expect(line).not.toContain(SESSION_ID);
    expect(line).not.toContain(SECRET);
    expect(line).not.toContain(wrongSecretCookie.split("=")[1]!.slice(0, 20));

    expect((await refusal(url, { cookie: wrongSecretCookie })).message).toBe("BAD_SIGNATURE");
    expect(printed).toHaveLength(1);
    // Another code is news: said once too.
    expect((await refusal(url)).message).toBe("NO_SESSION_COOKIE");
    expect(printed).toHaveLength(2);
    expect(printed[1]).toContain("NO_SESSION_COOKIE");
  });

  it("prints nothing under NODE_ENV=production", async () => {
    process.env.NODE_ENV = "production";
    const { url } = await serve();
    expect((await refusal(url, { cookie: wrongSecretCookie })).message).toBe("BAD_SIGNATURE");
    expect((await refusal(url)).message).toBe("NO_SESSION_COOKIE");
    expect(printed).toEqual([]);
  });

  it("prints nothing when the app set onError: it already hears of every refusal", async () => {
    process.env.NODE_ENV = "development";
    const seen: string[] = [];
    const { url } = await serve({ onError: (error) => seen.push(error.code) });
    expect((await refusal(url, { cookie: wrongSecretCookie })).message).toBe("BAD_SIGNATURE");
    expect(seen).toEqual(["BAD_SIGNATURE"]);
    expect(printed).toEqual([]);
  });
});

describe("NO_SESSION_COOKIE: the cross-origin hint only when the page is on another site", () => {
  it("a visitor who has not logged in yet (same-site Origin or none) reads no CORS advice", async () => {
    process.env.NODE_ENV = "development";
    const seen: string[] = [];
    const { url } = await serve({
      onError: (error) => seen.push(error.message),
      // A function: the test server's own origin is known only once it listens.
      origins: (origin) =>
        origin === undefined || origin === "https://elsewhere.example" || origin.startsWith("http://127.0.0.1:"),
    });
    const host = new URL(url).host;
    await refusal(url, { origin: `http://${host}` });
    await refusal(url);
    await refusal(url, { origin: "https://elsewhere.example" });
    expect(seen).toHaveLength(3);
    for (const message of seen.slice(0, 2)) {
      expect(message).toContain("has not logged in yet");
      expect(message).not.toMatch(/withCredentials|another (site|origin)|SameSite/i);
    }
    expect(seen[2]).toContain("another site");
    expect(seen[2]).toContain("withCredentials: true");
  });
});
