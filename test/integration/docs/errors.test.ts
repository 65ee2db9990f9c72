import { readFileSync } from "node:fs";
import session from "express-session";
import { afterAll, describe, expect, it } from "vitest";
import {
  SESSION_AUTH_ERROR_CODES,
  SessionAuthError,
  sessionAuth,
  type SessionAuthErrorCode,
  type SessionStore,
} from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { tableStore, type SessionTable } from "../../../docs/examples/adapter-map.js";
import { nextStep } from "../../../docs/examples/errors-client.js";
import { authWithLogs, type LogLine } from "../../../docs/examples/errors-server.js";
import { refusal, startRealtime, type ClientOptions, type Realtime } from "../../support/realtime.js";

// docs/errors.md documents every code of SESSION_AUTH_ERROR_CODES with the status and `retryable` the
// class gives it, and quotes `onError` messages. This file produces each refusal for real (a real
// socket.io client against docs/examples/errors-server.ts) and checks the page against what happened.

const page = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
const SECRET = "errors page secret";

/** The page's section for a code: from its `### \`CODE\`` heading to the next heading. */
function section(code: string): string | undefined {
  return page.split(/^### /m).find((part) => part.startsWith(`\`${code}\`\n`));
}
/** The ```text blocks of a section: the quoted messages. */
const quotes = (text: string) => [...text.matchAll(/```text\n([\s\S]*?)\n```/g)].map((match) => match[1]!);

const servers: Realtime[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

interface Scenario {
  code: SessionAuthErrorCode;
  store: SessionStore;
  client?: ClientOptions;
  authorize?: () => boolean;
}

const table: SessionTable = new Map([
  ["corrupt", { json: "{not json", expiresAt: null }],
  ["ended", { json: '{"userId":"1"}', expiresAt: Date.UTC(2020, 0, 1) }],
  ["anonymous", { json: '{"cart":[1]}', expiresAt: null }],
  ["someone", { json: '{"userId":"1"}', expiresAt: null }],
]);
const signed = (id: string) => signSessionCookie({ value: id, secret: SECRET });
// A store of the app's own, whose driver refuses connections (the Redis adapter says REDIS_NOT_READY instead).
const refusing: SessionStore = {
  name: "sessions",
  get: () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" })),
};
const silent: SessionStore = { name: "sessions", get: () => new Promise(() => {}) };

const scenarios: Scenario[] = [
  { code: "NO_SESSION_COOKIE", store: tableStore(table) },
  { code: "NO_SESSION_COOKIE", store: tableStore(table), client: { cookie: "theme=dark" } },
  { code: "MALFORMED_COOKIE", store: tableStore(table), client: { cookie: "connect.sid=abc" } },
  {
    code: "BAD_SIGNATURE",
    store: tableStore(table),
    client: { cookie: signSessionCookie({ value: "someone", secret: "another secret" }) },
  },
  { code: "SESSION_NOT_FOUND", store: memoryStore(new session.MemoryStore()), client: { cookie: signed("nobody") } },
  { code: "SESSION_NOT_FOUND", store: tableStore(table), client: { cookie: signed("corrupt") } },
  { code: "SESSION_EXPIRED", store: tableStore(table), client: { cookie: signed("ended") } },
  { code: "UNAUTHENTICATED", store: tableStore(table), client: { cookie: signed("anonymous") } },
  { code: "FORBIDDEN", store: tableStore(table), client: { cookie: signed("someone") }, authorize: () => false },
  {
    code: "ORIGIN_NOT_ALLOWED",
    store: tableStore(table),
    client: { cookie: signed("someone"), origin: "https://elsewhere.example" },
  },
  { code: "STORE_UNAVAILABLE", store: refusing, client: { cookie: signed("someone") } },
  { code: "STORE_UNAVAILABLE", store: silent, client: { cookie: signed("someone") } },
];

describe("docs/errors.md", () => {
  it("documents every code, with the status and retryable the class gives it", () => {
    expect(SESSION_AUTH_ERROR_CODES.length).toBe(11);
    for (const code of SESSION_AUTH_ERROR_CODES) {
      const text = section(code);
      expect(text, `a "### \`${code}\`" section`).toBeDefined();
      const error = new SessionAuthError(code, "");
      expect(text, code).toContain(`**Status** ${error.status} · **retryable** ${error.retryable ? "yes" : "no"}`);
      expect(text, code).toMatch(/\*\*When\*\*: /);
      expect(text, code).toMatch(/\*\*What to do\*\*: /);
      // SESSION_CONFLICT and SOCKET_DISCONNECTED come from update()/reload(), never from a handshake:
      // onError never sees them.
      if (code !== "SESSION_CONFLICT" && code !== "SOCKET_DISCONNECTED")
        expect(text, code).toMatch(/\*\*`onError` says\*\*/);
      expect(page, `${code} in the summary table`).toMatch(
        new RegExp(`^\\| \\[\`${code}\`\\]\\(#[a-z-]+\\) \\| ${error.status} \\| (\\*\\*yes\\*\\*|no) \\|`, "m"),
      );
    }
    expect(page.match(/^### `/gm)?.length).toBe(SESSION_AUTH_ERROR_CODES.length);
  });

  const seen = new Map<SessionAuthErrorCode, string[]>();

  it.each(scenarios.map((scenario, index) => [`${scenario.code} #${index}`, scenario] as const))(
    "%s: the client sees only { code, retryable }, onError sees the message the page quotes",
    async (_name, scenario) => {
      const logs: LogLine[] = [];
      const realtime = await startRealtime((io) => {
        const auth =
          scenario.authorize === undefined
            ? authWithLogs(scenario.store, SECRET, (line) => logs.push(line))
            : sessionAuth({
                store: scenario.store,
                secret: SECRET,
                authorize: scenario.authorize,
                onError: (error) =>
                  logs.push({ level: "info", code: error.code, status: error.status, message: error.message }),
              });
        io.use(auth);
      });
      servers.push(realtime);
      const failure = await refusal(realtime.url, scenario.client);
      const retryable = scenario.code === "STORE_UNAVAILABLE";
      expect(failure).toMatchObject({ message: scenario.code, data: { code: scenario.code, retryable } });
      expect(Object.keys(failure.data as object).sort()).toEqual(["code", "retryable"]);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ code: scenario.code, level: retryable ? "warn" : "info" });
      const port = new URL(realtime.url).port;
      const quoted = quotes(section(scenario.code)!).map((quote) => quote.replace("PORT", port));
      expect(quoted, `docs/errors.md quotes what onError said for ${scenario.code}`).toContain(logs[0]!.message);
      seen.set(scenario.code, [...(seen.get(scenario.code) ?? []), logs[0]!.message.replace(`:${port}`, ":PORT")]);
    },
  );

  it("quotes no message that the scenarios above did not produce", () => {
    for (const code of SESSION_AUTH_ERROR_CODES) {
      expect(quotes(section(code)!).sort(), code).toEqual([...(seen.get(code) ?? [])].sort());
    }
  });

  it("errors-client.ts: retries only the retryable code, and has an answer for every code", () => {
    const steps = Object.fromEntries(SESSION_AUTH_ERROR_CODES.map((code) => [code, nextStep(code)]));
    expect(steps).toEqual({
      NO_SESSION_COOKIE: "log-in",
      MALFORMED_COOKIE: "reload",
      BAD_SIGNATURE: "reload",
      SESSION_NOT_FOUND: "log-in",
      SESSION_EXPIRED: "log-in",
      UNAUTHENTICATED: "log-in",
      FORBIDDEN: "give-up",
      ORIGIN_NOT_ALLOWED: "give-up",
      SOCKET_DISCONNECTED: "give-up",
      STORE_UNAVAILABLE: "retry",
      SESSION_CONFLICT: "retry",
    });
  });
});
