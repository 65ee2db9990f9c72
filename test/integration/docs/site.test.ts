import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The docs site's guarantees that the VitePress build does not check: no code snippet is a hand copy
// (a TS/JS block written in a page is a whole file of an app, `[server.mjs]`, which pages.test.ts runs as
// pasted; every fragment is a `<<<` include of a docs/examples file, which tsc checks and the tests run),
// every include names a file and a region that exist, and every page is in the sidebar.

const docs = fileURLToPath(new URL("../../../docs/", import.meta.url));
const read = (path: string) => readFileSync(docs + path, "utf8");

/** docs/**\/*.md, as paths relative to docs/; the generated API reference and VitePress's own folders excluded. */
function pages(dir = ""): string[] {
  return readdirSync(docs + dir, { withFileTypes: true }).flatMap((entry) => {
    const path = dir + entry.name;
    if (entry.isDirectory())
      return path === "api" || path === "examples" || entry.name.startsWith(".") || entry.name === "node_modules"
        ? []
        : pages(`${path}/`);
    return entry.name.endsWith(".md") ? [path] : [];
  });
}

/** What VitePress's snippet plugin matches as a region marker in a TS/JS file (trimmed line). */
const REGION_MARKER = /^\/\/ ?#?((?:end)?region) ([\w*-]+)$/;

/** The lines of `region` in `source`, as VitePress takes them; undefined when the region is absent or unclosed. */
export function regionOf(source: string, region: string): string | undefined {
  const lines = source.split("\n");
  const start = lines.findIndex((line) => REGION_MARKER.exec(line.trim())?.slice(1).join(" ") === `region ${region}`);
  if (start < 0) return undefined;
  const end = lines.findIndex(
    (line, index) => index > start && REGION_MARKER.exec(line.trim())?.slice(1).join(" ") === `endregion ${region}`,
  );
  return end < 0 ? undefined : lines.slice(start + 1, end).join("\n");
}

// Pages that hold their code inline, as the page convention now asks (test/integration/docs/pages.test.ts runs
// their whole apps as pasted and holds their fragments to saying so): nothing there is hand-copied.
const INLINE_PAGES = new Set(["better-auth.md"]);

const CODE_FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)/;
const SCRIPT_LANGUAGES = new Set(["ts", "typescript", "js", "javascript", "tsx", "jsx", "mts", "cts", "mjs", "cjs"]);
const INCLUDE = /^ {0,3}<<<\s+@\/(\S+?\.\w+)(?:#([\w-]+))?(?:\s|$|\{|\[)/;

interface Found {
  page: string;
  line: number;
  text: string;
}

function scan(page: string): {
  scriptFences: Found[];
  includes: Array<Found & { file: string; region: string | undefined }>;
} {
  const scriptFences: Found[] = [];
  const includes: Array<Found & { file: string; region: string | undefined }> = [];
  let open: string | undefined;
  read(page)
    .split("\n")
    .forEach((text, index) => {
      const fence = CODE_FENCE.exec(text);
      if (open !== undefined) {
        if (fence !== null && fence[1]!.startsWith(open) && fence[2] === "") open = undefined;
        return;
      }
      if (fence !== null) {
        open = fence[1]!;
        // A whole file of an app carries its path as the title (`[server.mjs]`): pages.test.ts runs it.
        const wholeFile = /\[[^\]\s]+\.\w+\]/.test(text);
        if (SCRIPT_LANGUAGES.has(fence[2]!.toLowerCase()) && !wholeFile)
          scriptFences.push({ page, line: index + 1, text });
        return;
      }
      const include = INCLUDE.exec(text);
      if (include !== null) includes.push({ page, line: index + 1, text, file: include[1]!, region: include[2] });
      else if (/^ {0,3}<<</.test(text))
        includes.push({ page, line: index + 1, text, file: "(unparsed include)", region: undefined });
    });
  return { scriptFences, includes };
}

describe("the docs site", () => {
  const all = pages();

  it("has the pages the sidebar promises", () => {
    expect(all).toEqual(
      expect.arrayContaining([
        "index.md",
        "getting-started.md",
        "memory.md",
        "redis.md",
        "mongo.md",
        "cookie-sessions.md",
        "any-store.md",
        "push.md",
        "several-nodes.md",
        "security.md",
        "errors.md",
        "writing-an-adapter.md",
        "migrating.md",
      ]),
    );
  });

  it("has no hand-copied TypeScript or JavaScript: a block in a page is a whole app's file, a fragment a <<< include", () => {
    const fences = all
      .filter((page) => !INLINE_PAGES.has(page))
      .flatMap((page) => scan(page).scriptFences)
      .map(({ page, line, text }) => `${page}:${line}: ${text}`);
    expect(fences, "replace these fences with <<< @/examples/<file>.ts#<region>").toEqual([]);
  });

  it("includes only files and regions that exist", () => {
    const includes = all.flatMap((page) => scan(page).includes);
    expect(includes.length).toBeGreaterThan(30);
    const broken = includes.flatMap(({ page, line, file, region }) => {
      const where = `${page}:${line}: @/${file}${region === undefined ? "" : `#${region}`}`;
      if (!existsSync(docs + file)) return [`${where}: no such file`];
      if (region === undefined) return [];
      const body = regionOf(read(file), region);
      if (body === undefined)
        return [`${where}: no region "${region}" (// #region ${region} ... // #endregion ${region})`];
      if (body.trim() === "") return [`${where}: the region is empty`];
      return [];
    });
    expect(broken).toEqual([]);
  });

  it("links every page from the sidebar, and every sidebar link to a page", () => {
    const config = readFileSync(`${docs}.vitepress/config.mts`, "utf8");
    const links = [...config.matchAll(/link: "\/([\w-]*)"/g)].map((match) => match[1]!).filter((link) => link !== "");
    const linked = new Set(links.map((link) => `${link}.md`));
    expect(all.filter((page) => page !== "index.md" && !linked.has(page))).toEqual([]);
    const missing = [...linked].filter((page) => !existsSync(docs + page));
    expect(missing).toEqual([]);
  });

  it("every docs/examples file is shown on a page, or is a declaration or test of the examples", () => {
    const included = new Set(all.flatMap((page) => scan(page).includes.map((include) => include.file)));
    const examples = readdirSync(`${docs}examples`).filter(
      (file) => /\.ts$/.test(file) && !file.endsWith(".d.ts") && !file.endsWith(".test.ts"),
    );
    // A whole app may be written out in its page instead (GitHub shows an include as a plain line): its
    // region, as the file has it, is then the text of one of that page's blocks.
    const pages = all.map((page) => readFileSync(`${docs}${page}`, "utf8"));
    const writtenOut = (file: string): boolean => {
      const region = regionOf(readFileSync(`${docs}examples/${file}`, "utf8"), file.replace(/\.ts$/, ""));
      return region !== undefined && pages.some((text) => text.includes(`\n${region}\n\`\`\``));
    };
    expect(examples.filter((file) => !included.has(`examples/${file}`) && !writtenOut(file))).toEqual([]);
  });

  it("regionOf finds what VitePress finds, and misses what it misses", () => {
    const source = ["a", "  // #region one", "b", "  // #endregion one", "// #region two", "c"].join("\n");
    expect(regionOf(source, "one")).toBe("b");
    expect(regionOf(source, "two")).toBeUndefined(); // unclosed
    expect(regionOf(source, "three")).toBeUndefined();
  });
});
