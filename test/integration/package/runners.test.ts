import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { freshAppDir, packedInstall, type PackedInstall } from "../../support/packed.js";

// The package as users get it (packed from a clean copy, unpacked into node_modules) under each test
// runner an adapter author may use: the conformance kit against our memory adapter under Jest,
// node:test and Vitest, and `signSessionCookie` from CommonJS with no runner loaded.

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
let install: PackedInstall;
let dir: string;

beforeAll(async () => {
  install = await packedInstall();
  dir = freshAppDir(install, "runners");
  cpSync(fixtures, dir, { recursive: true });
}, 240_000);

/** Runs a command in the app folder; resolves stdout and stderr whatever the exit code, with the code. */
async function inApp(command: string, args: string[], timeout = 90_000) {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd: dir,
      timeout,
      env: { ...process.env, CI: "true", NODE_OPTIONS: "" },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

describe("the packed package", () => {
  it("carries the built code of every entry point, ESM and CommonJS with types", () => {
    const manifest = JSON.parse(
      readFileSync(join(install.root, "node_modules/socket.io-session-auth/package.json"), "utf8"),
    ) as {
      exports: Record<
        string,
        { import?: { default: string; types: string }; require?: { default: string; types: string } }
      >;
    };
    const targets = Object.values(manifest.exports).flatMap((entry) =>
      entry.import && entry.require
        ? [entry.import.default, entry.import.types, entry.require.default, entry.require.types]
        : [],
    );
    expect(targets.length).toBeGreaterThanOrEqual(9 * 4);
    for (const target of targets) expect(install.files).toContain(target.replace(/^\.\//, ""));
    expect(install.files.some((file) => file.startsWith("src/") || file.startsWith("test/"))).toBe(false);
  });

  it("types /push-client without socket.io, so a service that only pushes need not install it", () => {
    const dist = join(install.root, "node_modules/socket.io-session-auth/dist");
    // The entry's declarations and every declaration chunk they import, followed to the end.
    for (const entry of ["push-client.d.ts", "push-client.d.cts"]) {
      const seen = new Set<string>();
      const pending = [entry];
      while (pending.length > 0) {
        const file = pending.pop()!;
        if (seen.has(file)) continue;
        seen.add(file);
        const text = readFileSync(join(dist, file), "utf8");
        expect(text, file).not.toMatch(/from ['"]socket\.io['"/]|import\(['"]socket\.io/);
        for (const [, chunk] of text.matchAll(/from ['"]\.\/([^'"]+)\.c?js['"]/g))
          pending.push(`${chunk}${file.endsWith(".d.cts") ? ".d.cts" : ".d.ts"}`);
      }
      expect(seen.size, entry).toBeGreaterThan(1);
    }
  });

  it("ships a manifest with no install-time script, so npm 11 lists nothing to approve", () => {
    // prepack strips `prepare` (the repository keeps it for installs from git): scripts/pack-manifest.mjs.
    const { scripts = {} } = JSON.parse(
      readFileSync(join(install.root, "node_modules/socket.io-session-auth/package.json"), "utf8"),
    ) as { scripts?: Record<string, string> };
    for (const event of ["preinstall", "install", "postinstall", "prepare"]) expect(scripts).not.toHaveProperty(event);
    expect(install.files).not.toContain("binding.gyp");
  });

  it("requires /testing from CommonJS with no runner loaded, and signs as express-session does", async () => {
    const { code, stdout, stderr } = await inApp("node", ["sign.cjs"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const { cookie, loaded } = JSON.parse(stdout) as { cookie: string; loaded: string[] };
    const mac = createHmac("sha256", "s3cret").update("abc").digest("base64").replace(/=+$/, "");
    expect(cookie).toBe(`connect.sid=${encodeURIComponent(`s:abc.${mac}`)}`);
    expect(loaded).toEqual([]);
  });
});

describe("the conformance kit under each runner, against the memory adapter", () => {
  it("Jest (CommonJS, its globals)", async () => {
    const { code, stdout, stderr } = await inApp("npx", [
      "--no-install",
      "jest",
      "--ci",
      "--json",
      "--rootDir",
      ".",
      "--testMatch",
      "**/kit.jest.test.cjs",
    ]);
    const report = JSON.parse(stdout) as { numPassedTests: number; numFailedTests: number; numTotalTests: number };
    expect({ code, failed: report.numFailedTests }, stderr).toEqual({ code: 0, failed: 0 });
    expect(report.numPassedTests).toBeGreaterThanOrEqual(12);
  });

  it("node:test (ESM, the runner passed)", async () => {
    const { code, stdout, stderr } = await inApp("node", ["--test", "--test-reporter=tap", "kit.node-test.mjs"]);
    const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, "m").exec(stdout)?.[1]);
    expect({ code, fail: count("fail") }, `${stdout}\n${stderr}`).toEqual({ code: 0, fail: 0 });
    // 12 checks apply to this harness (set and destroy left the contract), one of them skipped.
    expect(count("pass")).toBeGreaterThanOrEqual(11);
    expect(count("skipped")).toBe(1); // breakStore: a MemoryStore cannot fail
  });

  it("Vitest (no globals, nothing passed: found by itself)", async () => {
    const { code, stdout, stderr } = await inApp("npx", [
      "--no-install",
      "vitest",
      "run",
      "--root",
      ".",
      "--config",
      "vitest.config.mjs",
      "--reporter=json",
    ]);
    const report = JSON.parse(stdout.slice(stdout.indexOf("{"))) as { numPassedTests: number; numFailedTests: number };
    expect({ code, failed: report.numFailedTests }, stderr).toEqual({ code: 0, failed: 0 });
    expect(report.numPassedTests).toBeGreaterThanOrEqual(11); // 12 checks, breakStore skipped
  });
});

describe("the conformance kit catches a broken adapter", () => {
  it("fails the compareAndSet and expires checks of a store with those bugs, and only the checks that apply", async () => {
    const { code, stdout } = await inApp("node", ["--test", "--test-reporter=tap", "kit.broken.mjs"]);
    const failed = [...stdout.matchAll(/^\s*not ok \d+ - (.+)$/gm)]
      .map((match) => match[1]!.trim())
      .filter((name) => !name.startsWith("SessionStore conformance"));
    expect(code).not.toBe(0);
    expect(failed).toEqual(
      expect.arrayContaining([
        "compareAndSet() refuses once another write came in between",
        "reports the expiry the library wrote, as a Date",
      ]),
    );
    expect(failed).not.toContain("compareAndSet() writes on the revision just read, and a fresh get() sees the write");
    expect(failed).not.toContain("resolves null for an id it has never seen");
  });
});
