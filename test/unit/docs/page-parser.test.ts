import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../support/packed.js";
import { importedPackages, installedPackages, readBlocks, readPage } from "../../support/pages.js";

// The page convention's reader, on pages made for the purpose: what it takes for a whole file, an install
// line, a run command and a fragment decides what test/integration/docs/pages.test.ts runs.

mkdirSync(join(repoRoot, "test-output"), { recursive: true });
const scratch = mkdtempSync(join(repoRoot, "test-output", "parser-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function page(markdown: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(scratch, "page-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repoRoot, "docs", path, ".."), { recursive: true });
    writeFileSync(join(repoRoot, "docs", path), text);
  }
  writeFileSync(join(dir, "page.md"), markdown);
  return relative(repoRoot, join(dir, "page.md"));
}

describe("the page reader", () => {
  it("expands an include as VitePress shows it: a region without any region marker, or the whole file", () => {
    const file = `../test-output/${relative(join(repoRoot, "test-output"), scratch)}/example.ts`;
    const path = page(["<<< @/" + file + "#wire", "", "<<< @/" + file + " [whole.ts]"].join("\n"), {
      [file]: [
        "const a = 1;",
        "// #region wire",
        "wire(a);",
        "  // #region inner",
        "inner();",
        "  // #endregion inner",
        "// #endregion wire",
        "",
      ].join("\n"),
    });
    const [region, whole] = readBlocks(path);
    expect(region).toMatchObject({ lang: "ts", title: "", code: "wire(a);\ninner();" });
    expect(whole!.title).toBe("whole.ts");
    expect(whole!.code).toContain("const a = 1;\n// #region wire");
  });

  it("groups an install block, titled files and a run block into one app; other code is a fragment", () => {
    const path = page(
      [
        "Intro.",
        "",
        "```sh [install]",
        "npm install socket.io-session-auth express@5 @fastify/session@^11",
        "npm install -D tsx",
        "```",
        "",
        "::: code-group",
        "",
        "```js [server.mjs]",
        'import express from "express";',
        "```",
        "",
        ":::",
        "",
        "```sh [run]",
        "# start it",
        "node server.mjs",
        "```",
        "",
        "A fragment of [the app](#intro):",
        "",
        "```ts",
        "io.use(auth);",
        "```",
      ].join("\n"),
    );
    const { apps, fragments } = readPage(path);
    expect(apps).toEqual([
      {
        line: 3,
        packages: ["socket.io-session-auth", "express", "@fastify/session", "tsx"],
        files: [{ path: "server.mjs", code: 'import express from "express";' }],
        run: "node server.mjs",
      },
    ]);
    expect(fragments).toHaveLength(1);
    expect(fragments[0]!.before).toContain("A fragment of [the app](#intro):");
  });

  it("refuses an app without a run block", () => {
    expect(() => readPage(page("```sh [install]\nnpm install x\n```\n\n```js [a.mjs]\n1\n```\n"))).toThrow(
      /no \[run\] block/,
    );
  });

  it("names the packages a file imports or requires, not builtins or relative paths", () => {
    const code = [
      'import express from "express";',
      'import type { Socket } from "socket.io";',
      'import { readFile } from "node:fs/promises";',
      'import { createServer } from "http";',
      'import { memoryStore } from "socket.io-session-auth/memory";',
      'const { IoAdapter } = require("@nestjs/platform-socket.io");',
      'import "./local.js";',
      'await import("connect-redis");',
    ].join("\n");
    expect(importedPackages(code).sort()).toEqual([
      "@nestjs/platform-socket.io",
      "connect-redis",
      "express",
      "socket.io",
      "socket.io-session-auth",
    ]);
    expect(installedPackages("npm i -D @types/node@20 typescript")).toEqual(["@types/node", "typescript"]);
  });
});
