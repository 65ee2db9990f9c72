import { afterEach, beforeEach, expect } from "vitest";

// A setup file (vitest.config.ts `setupFiles`): what the package says by itself while the suite runs is
// checked here instead of printed, so a green run prints nothing a newcomer would take for a problem.
//
// - Its process warnings (code SOCKET_IO_SESSION_AUTH_*, the start-time and store warnings): a test that
//   causes one asserts it, with its own `process.on("warning")` listener or with captureWarnings() from
//   ./warnings.ts. One that reaches no listener of the test's is printed after the test, with the test's
//   name, so it can be found and asserted where it is caused. Every other warning prints as usual.
// - Its first-refusal line on stderr (DESIGN Core, "Nothing is silent by default"; tested as such in
//   test/integration/diagnostics/first-refusal.test.ts): every test that leaves `onError` unset prints
//   it. Each line is held to its documented shape and to quoting no cookie, session id or token.

interface Quiet {
  /** The listeners that were there before this file ran (Node's printer), each behind our filter. */
  readonly defaults: number;
  unheard: Error[];
  notices: string[];
}

const KEY = Symbol.for("socket.io-session-auth/test/quiet-output");
const ours = (warning: Error): boolean =>
  String((warning as Error & { code?: unknown }).code ?? "").startsWith("SOCKET_IO_SESSION_AUTH_");
const NOTICE = "socket.io-session-auth: refused a handshake: ";

function install(): Quiet {
  const installed = (globalThis as Record<symbol, Quiet | undefined>)[KEY];
  if (installed !== undefined) return installed;
  const printers = process.listeners("warning");
  const state: Quiet = { defaults: printers.length, unheard: [], notices: [] };
  for (const print of printers) {
    process.off("warning", print);
    process.on("warning", (warning: Error) => {
      if (!ours(warning)) return print(warning);
      // More listeners than ours: the running test listens, and asserts what it hears.
      if (process.listenerCount("warning") > state.defaults) return;
      // Several printers would see the same warning: keep it once.
      if (!state.unheard.includes(warning)) state.unheard.push(warning);
    });
  }
  const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === "string" && chunk.startsWith(NOTICE)) {
      state.notices.push(chunk);
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
  (globalThis as Record<symbol, Quiet | undefined>)[KEY] = state;
  return state;
}

const state = install();

beforeEach(() => {
  state.unheard = [];
  state.notices = [];
});

afterEach((context) => {
  for (const warning of state.unheard.splice(0)) {
    const code = (warning as Error & { code?: string }).code;
    process.stderr.write(`warning not asserted by "${context.task.name}": [${code}] ${warning.message}\n`);
  }
  for (const line of state.notices.splice(0)) {
    expect(line).toMatch(
      /^socket\.io-session-auth: refused a handshake: [A-Z_]+: [^\n]+ \(said once per code outside production; [^\n]+\)\n$/,
    );
    // A signed express-session cookie (s:<id>.<mac>, raw or URL-encoded), a cookie pair, or anything
    // token-like: a session id, a seal, a JWT.
    expect(line).not.toMatch(/s(:|%3A)[\w-]+\.|=[\w%-]{8,}|[\w+/-]{32,}/);
  }
});
