import { spawn, type ChildProcess } from "node:child_process";
import { builtinModules } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { repoRoot } from "./packed.js";

// Reads a docs page as the reader sees it (VitePress `<<<` includes expanded, regions cut as VitePress
// cuts them) and splits it into apps and fragments, by the convention written at the top of
// test/integration/docs/pages.test.ts.

export interface CodeBlock {
  /** The fence's language (`js`, `ts`, `sh`, `html`...). */
  lang: string;
  /** The `[title]` of the fence or include: a file path, `install` or `run`; "" without one. */
  title: string;
  code: string;
  /** 1-based line of the page where the block (or its include) starts. */
  line: number;
  /** The prose between the previous block and this one. */
  before: string;
}

export interface PageApp {
  /** 1-based line of its install block. */
  line: number;
  /** Every package named by its `npm install` lines (`-D` ones too), without versions. */
  packages: string[];
  files: Array<{ path: string; code: string }>;
  /** The command of its `[run]` block. */
  run: string;
}

const REGION_START = (name: string) => new RegExp(`^\\s*(?://|<!--|#)\\s*#region\\s+${name}\\b`);
const REGION_END = (name: string) => new RegExp(`^\\s*(?://|<!--|#)\\s*#endregion\\s+${name}\\b`);
const ANY_REGION_MARK = /^\s*(?:\/\/|<!--|#)\s*#(?:end)?region\b/;

/** The text an include shows: the whole file, or the region's lines without any region marker. */
function included(file: string, region: string | undefined): string {
  const text = readFileSync(file, "utf8");
  if (region === undefined) return text.replace(/\n$/, "");
  const lines = text.split("\n");
  const start = lines.findIndex((line) => REGION_START(region).test(line));
  const end = lines.findIndex((line, index) => index > start && REGION_END(region).test(line));
  if (start < 0 || end < 0) throw new Error(`${file} has no region ${region}`);
  return lines
    .slice(start + 1, end)
    .filter((line) => !ANY_REGION_MARK.test(line))
    .join("\n");
}

const EXTENSION_LANG: Record<string, string> = {
  ts: "ts",
  mts: "ts",
  js: "js",
  mjs: "js",
  cjs: "js",
  html: "html",
  sh: "sh",
  json: "json",
};

/** Every code block of a page, includes expanded. `docs/` pages resolve `@/` to docs/. */
export function readBlocks(page: string): CodeBlock[] {
  const path = resolve(repoRoot, page);
  const lines = readFileSync(path, "utf8").split("\n");
  const blocks: CodeBlock[] = [];
  let prose: string[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const include = /^<<<\s+@\/(\S+?)(?:#([\w-]+))?(?:\s*\{[^}]*\})?(?:\s*\[(.+)\])?\s*$/.exec(line);
    if (include) {
      const [, file, region, title] = include;
      const extension = file!.split(".").pop()!;
      blocks.push({
        lang: EXTENSION_LANG[extension] ?? extension,
        title: title ?? "",
        code: included(join(repoRoot, "docs", file!), region),
        line: index + 1,
        before: prose.join("\n"),
      });
      prose = [];
      continue;
    }
    const fence = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence) {
      const [, indent, marker, info] = fence;
      const body: string[] = [];
      let end = index + 1;
      while (end < lines.length && !lines[end]!.startsWith(`${indent}${marker}`))
        body.push(lines[end++]!.slice(indent!.length));
      const title = /\[(.+)\]/.exec(info!)?.[1] ?? "";
      const lang =
        info!
          .replace(/\[.*\]/, "")
          .trim()
          .split(/[\s{:]/)[0] ?? "";
      blocks.push({ lang, title, code: body.join("\n"), line: index + 1, before: prose.join("\n") });
      prose = [];
      index = end;
      continue;
    }
    if (!/^:::/.test(line)) prose.push(line);
  }
  return blocks;
}

/** The packages an `npm install` line names (flags and versions dropped). */
export function installedPackages(command: string): string[] {
  return command
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter((line) => /^npm (install|i|add)\b/.test(line))
    .flatMap((line) => line.split(/\s+/).slice(2))
    .filter((word) => !word.startsWith("-"))
    .map((word) => word.replace(/(?<=.)@[^/]*$/, ""));
}

export const CODE_LANGS = new Set(["js", "javascript", "ts", "typescript", "mjs", "cjs", "html", "vue"]);

/** Splits a page's blocks into apps (install, files, run) and fragments (every other code block). */
export function readPage(page: string): { apps: PageApp[]; fragments: CodeBlock[] } {
  const apps: PageApp[] = [];
  const fragments: CodeBlock[] = [];
  let current: PageApp | undefined;
  for (const block of readBlocks(page)) {
    if (block.title === "install") {
      if (current)
        throw new Error(
          `${page}:${block.line}: an install block before the [run] block of the app at line ${current.line}`,
        );
      current = { line: block.line, packages: installedPackages(block.code), files: [], run: "" };
    } else if (block.title === "run") {
      if (!current) throw new Error(`${page}:${block.line}: a [run] block with no [install] block before it`);
      current.run = block.code
        .split("\n")
        .find((line) => line.trim() !== "" && !line.trim().startsWith("#"))!
        .trim();
      apps.push(current);
      current = undefined;
    } else if (block.title !== "" && current) {
      current.files.push({ path: block.title, code: block.code });
    } else if (CODE_LANGS.has(block.lang)) {
      fragments.push(block);
    }
  }
  if (current) throw new Error(`${page}:${current.line}: an app with no [run] block`);
  return { apps, fragments };
}

/** The bare module names a file imports or requires (`express`, `@nestjs/core`, `socket.io-session-auth`). */
export function importedPackages(code: string): string[] {
  const names = new Set<string>();
  for (const match of code.matchAll(
    /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"'./][^"']*)["']/g,
  )) {
    const specifier = match[1]!;
    if (specifier.startsWith("node:") || builtinModules.includes(specifier)) continue;
    const parts = specifier.split("/");
    names.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
  }
  return [...names];
}

export interface RunningApp {
  /** `http://127.0.0.1:<port>`, from the URL the app printed. */
  url: string;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Writes the app's files into `dir`, runs its command there with `PORT=0` (and `env`), and resolves
 * once it prints `http://localhost:<port>` (or 127.0.0.1). Bounded: rejects with its output after
 * `timeout` ms, or when it exits first.
 */
export async function startApp(
  app: PageApp,
  dir: string,
  env: Record<string, string> = {},
  timeout = 30_000,
): Promise<RunningApp> {
  for (const file of app.files) {
    mkdirSync(dirname(join(dir, file.path)), { recursive: true });
    writeFileSync(join(dir, file.path), `${file.code}\n`);
  }
  const [command, ...args] = app.run.split(/\s+/);
  const child: ChildProcess = spawn(command!, args, {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: "", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: npx and what it starts are stopped together
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid!, "SIGTERM");
      const killed = setTimeout(() => child.exitCode === null && process.kill(-child.pid!, "SIGKILL"), 5000);
      await exited;
      clearTimeout(killed);
    }
  };
  const started = Date.now();
  for (;;) {
    const port = /http:\/\/(?:localhost|127\.0\.0\.1):(\d+)/.exec(output)?.[1];
    if (port !== undefined) return { url: `http://127.0.0.1:${port}`, output: () => output, stop };
    if (child.exitCode !== null || child.signalCode !== null || Date.now() - started > timeout) {
      await stop();
      throw new Error(
        `\`${app.run}\` printed no http://localhost:<port> (${child.exitCode === null ? "timed out" : `exit ${child.exitCode}`}):\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The packages an install of `packages` brings: each one and its dependencies and peer dependencies
 * (npm installs peers too), as the repository's node_modules has them. An app may import these.
 */
export function installedWith(packages: readonly string[]): Set<string> {
  const found = new Set(packages);
  for (const name of packages) {
    try {
      const manifest = JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")) as {
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
        peerDependenciesMeta?: Record<string, { optional?: boolean }>;
      };
      for (const dependency of Object.keys(manifest.dependencies ?? {})) found.add(dependency);
      for (const peer of Object.keys(manifest.peerDependencies ?? {}))
        if (!manifest.peerDependenciesMeta?.[peer]?.optional) found.add(peer);
    } catch {
      // not installed here: the install-line check reports it
    }
  }
  return found;
}
