/**
 * The four functions of a test runner the conformance suite declares its tests with. Vitest's and
 * node:test's module namespaces fit as they are (`import * as vitest from "vitest"`,
 * `import * as nodeTest from "node:test"`), and so do the globals of Jest, Mocha and Jasmine.
 */
export interface TestRunner {
  /** Groups the suite's tests under one name. */
  describe(name: string, body: () => void): unknown;
  /**
   * Declares one test. The suite also passes its per-test timeout (ms) as a third argument, which Vitest
   * and Jest honour and node:test and Mocha ignore (the suite bounds its own waits either way).
   */
  it(name: string, body: () => void | Promise<void>): unknown;
  /** Runs before every test (a fresh harness each time); gets the timeout as a second argument too. */
  beforeEach(body: () => void | Promise<void>): unknown;
  /** Runs after every test; gets the timeout as a second argument too. */
  afterEach(body: () => void | Promise<void>): unknown;
}

/** The runner's functions with the timeout argument that Vitest and Jest take (and the others ignore). */
export interface TimedRunner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => void | Promise<void>, timeout: number): unknown;
  beforeEach(body: () => void | Promise<void>, timeout: number): unknown;
  afterEach(body: () => void | Promise<void>, timeout: number): unknown;
}

const isRunner = (value: unknown): value is TestRunner =>
  typeof value === "object" || typeof value === "function"
    ? value !== null &&
      ["describe", "it", "beforeEach", "afterEach"].every(
        (key) => typeof (value as Record<string, unknown>)[key] === "function",
      )
    : false;

/**
 * The runner to declare tests with: the one given, else the runner's globals (Jest, Mocha, Jasmine,
 * Vitest with `globals: true`), else Vitest's own API. Vitest publishes it on `globalThis.__vitest_index__`
 * in every test worker (that is how its in-source tests reach `import.meta.vitest`), which keeps
 * `describeSessionStore(name, setup)` working in a plain Vitest file without this module importing
 * vitest: importing a runner at load is what made the entry unusable from CommonJS and from every
 * other runner.
 */
export function resolveRunner(given: unknown): TimedRunner {
  if (given !== undefined) {
    if (isRunner(given)) return given as TimedRunner;
    throw new TypeError(
      "describeSessionStore: `runner` must have describe, it, beforeEach and afterEach functions " +
        '(e.g. `import * as vitest from "vitest"`, `import * as nodeTest from "node:test"`, or Jest\'s globals)',
    );
  }
  const scope = globalThis as Record<string, unknown>;
  if (isRunner(scope)) return scope as unknown as TimedRunner;
  if (isRunner(scope.__vitest_index__)) return scope.__vitest_index__ as TimedRunner;
  throw new TypeError(
    "describeSessionStore: no test runner found. Pass one: describeSessionStore(name, setup, { runner }), where runner is " +
      '`import * as nodeTest from "node:test"`, `import * as vitest from "vitest"`, or any object with describe, it, beforeEach and afterEach',
  );
}

/**
 * Skips the running test where the runner can (Vitest's and node:test's context `skip()`, Mocha's
 * `this.skip()`); Jest has no run-time skip, so there the test ends early as passed.
 */
export function skipTest(self: unknown, context: unknown, reason: string): void {
  for (const candidate of [context, self]) {
    const skip = (candidate as { skip?: unknown } | undefined)?.skip;
    if (typeof skip === "function") {
      skip.call(candidate, reason);
      return;
    }
  }
}
