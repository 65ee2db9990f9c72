/**
 * The benchmarks measure the package as users run it: the build in dist/ (tsup's output), not src/
 * compiled on the fly by tsx, whose `keepNames` wraps every named closure in a `__name` call each time
 * it is made (dozens per handshake in our code, almost none in the hand-written floors, which would be
 * charged less). Called first by each runner: builds dist/ when it is missing or older than a source
 * file, then points tsx (in this process's children, which inherit the environment) at a tsconfig
 * without the path mapping to src/.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function useBuiltPackage(): void {
  const built = join(root, "dist", "index.js");
  const stale =
    !existsSync(built) ||
    statSync(built).mtimeMs < Math.max(newestSource(join(root, "src")), newestSource(join(root, "adapters")));
  if (stale) {
    process.stderr.write("bench: building dist/ (npm run build) so that the package is measured as users run it\n");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  }
  process.env.TSX_TSCONFIG_PATH = join(root, "bench", "tsconfig.dist.json");
}
