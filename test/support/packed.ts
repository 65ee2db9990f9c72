import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// One `npm pack`, from a copy of the repository as a fresh clone has it (tracked and new files, no
// dist/, no ignored files), and one install beside it, shared by every test file that runs the package
// as users get it (the page tests, the runner tests). Vitest runs files in separate processes: the
// first one builds under a lock, the others wait for it and reuse the result while the sources are
// the same (the key is a hash of every file a clean clone would have).

const run = promisify(execFile);
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const repoModules = join(repoRoot, "node_modules");

export interface PackedInstall {
  /** The tarball `npm pack` made in the clean copy. */
  tarball: string;
  /** What npm put in it (paths inside the package). */
  files: string[];
  /** A folder whose node_modules holds the unpacked package and the packages it was asked for; put apps in folders under it. */
  root: string;
}

async function cleanCopyFiles(): Promise<string[]> {
  const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    maxBuffer: 64 << 20,
  });
  return stdout
    .split("\0")
    .filter((path) => path !== "" && existsSync(join(repoRoot, path)) && statSync(join(repoRoot, path)).isFile());
}

async function sourcesKey(files: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const path of files.sort())
    hash
      .update(path)
      .update("\0")
      .update(readFileSync(join(repoRoot, path)))
      .update("\0");
  return hash.digest("hex").slice(0, 16);
}

/** Links `name` from the repository's node_modules, as an install would place it. */
function link(modules: string, name: string): void {
  const from = join(repoModules, name);
  if (!existsSync(from))
    throw new Error(
      `${name} is not installed in the repository: npm install it there first (it is on an install line)`,
    );
  const to = join(modules, name);
  if (existsSync(to)) return;
  mkdirSync(dirname(to), { recursive: true });
  symlinkSync(from, to, "dir");
  // Its commands in node_modules/.bin, where npx and npm scripts look for them.
  const { bin } = JSON.parse(readFileSync(join(from, "package.json"), "utf8")) as {
    bin?: string | Record<string, string>;
  };
  const bins = typeof bin === "string" ? { [name.split("/").pop()!]: bin } : (bin ?? {});
  mkdirSync(join(modules, ".bin"), { recursive: true });
  for (const [command, file] of Object.entries(bins)) {
    if (!existsSync(join(modules, ".bin", command))) symlinkSync(join(from, file), join(modules, ".bin", command));
  }
}

async function build(dir: string, packages: readonly string[]): Promise<PackedInstall> {
  const clone = join(dir, "clone");
  mkdirSync(clone, { recursive: true });
  for (const path of await cleanCopyFiles()) cpSync(join(repoRoot, path), join(clone, path));
  // `npm ci` in a fresh clone would fill this; the packages are the same ones.
  symlinkSync(repoModules, join(clone, "node_modules"), "dir");
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], {
    cwd: clone,
    timeout: 180_000,
    maxBuffer: 64 << 20,
  });
  // npm prints the prepare script's output before the JSON.
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("\n[") + 1)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const tarball = join(dir, packed!.filename);

  const root = join(dir, "apps");
  const modules = join(root, "node_modules");
  const unpacked = join(modules, "socket.io-session-auth");
  mkdirSync(unpacked, { recursive: true });
  await run("tar", ["-xzf", tarball, "-C", unpacked, "--strip-components=1"]);
  const manifest = JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(manifest.dependencies ?? {})) link(modules, name);
  for (const name of packages) if (isInstalled(name) || !OPTIONAL_PACKAGES.has(name)) link(modules, name);
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "apps", private: true }));
  rmSync(clone, { recursive: true, force: true });
  return { tarball, files: packed!.files.map((file) => file.path), root };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Every package an install line of the docs may name, and what the runner tests need: the apps'
 * node_modules holds these (and only these) beside the packed package.
 */
export const APP_PACKAGES = [
  "@opentelemetry/api",
  "@opentelemetry/sdk-trace-base",
  "@opentelemetry/sdk-metrics",
  "express",
  "express-session",
  "memorystore",
  "socket.io",
  "socket.io-client",
  "redis",
  "connect-redis",
  "ioredis",
  "mongodb",
  "connect-mongo",
  "pg",
  "connect-pg-simple",
  "fastify",
  "@fastify/cookie",
  "@fastify/session",
  "@nestjs/common",
  "@nestjs/core",
  "@nestjs/platform-express",
  "@nestjs/platform-socket.io",
  "@nestjs/websockets",
  "reflect-metadata",
  "rxjs",
  "jest",
  "vitest",
  "tsx",
  "typescript",
  "@types/express",
  "@types/express-session",
  "@types/node",
  "body-parser",
  "passport",
  "passport-local",
  "better-auth",
  "@socket.io/redis-adapter",
  "@socket.io/cluster-adapter",
  "@socket.io/sticky",
  "@auth/express",
  "@auth/core",
  "iron-session",
] as const;

/**
 * Packages of APP_PACKAGES that the repository may not have installed (not among its devDependencies
 * yet): left out of the apps' node_modules when absent, and the apps that need them are skipped loudly.
 */
export const OPTIONAL_PACKAGES: ReadonlySet<string> = new Set(["passport", "passport-local"]);

/** Whether the repository's node_modules has this package (so an app needing it can run). */
export const isInstalled = (name: string): boolean => existsSync(join(repoModules, name, "package.json"));

/**
 * The packed package, unpacked into a node_modules with `packages` beside it (linked from the
 * repository's own node_modules: tests talk to 127.0.0.1 only, so nothing comes from the registry).
 * Every caller must pass the same `packages` (the union of every install line); the result is cached
 * under test-output/packed/<key> across test files and runs. Bounded: 4 minutes.
 */
export async function packedInstall(packages: readonly string[] = APP_PACKAGES): Promise<PackedInstall> {
  const key = await sourcesKey(await cleanCopyFiles());
  const dir = join(
    repoRoot,
    "test-output",
    "packed",
    `${key}-${createHash("sha256")
      .update([...packages].sort().join(","))
      .digest("hex")
      .slice(0, 8)}`,
  );
  const done = join(dir, "done.json");
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 240_000;
  mkdirSync(dirname(dir), { recursive: true });
  while (!existsSync(done)) {
    if (Date.now() > deadline) throw new Error(`packedInstall: no result in ${dir} after 4 minutes`);
    try {
      mkdirSync(lock);
    } catch {
      // Another test file is building it; a lock older than any build is left by a killed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 200_000)
        rmSync(lock, { recursive: true, force: true });
      await sleep(250);
      continue;
    }
    try {
      if (!existsSync(done)) {
        // Builds of older sources, left by earlier runs: an hour is longer than any run that could still use one.
        for (const old of readdirSync(dirname(dir))) {
          const path = join(dirname(dir), old);
          if (path !== lock && Date.now() - statSync(path).mtimeMs > 3_600_000)
            rmSync(path, { recursive: true, force: true });
        }
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        writeFileSync(done + ".tmp", JSON.stringify(await build(dir, packages)));
        cpSync(done + ".tmp", done);
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return JSON.parse(readFileSync(done, "utf8")) as PackedInstall;
}

/** A fresh, empty folder for one app, under the shared install (so its imports resolve there). */
export function freshAppDir(install: PackedInstall, name: string): string {
  const dir = join(install.root, `${name}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export const listFiles = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: "utf8" });
