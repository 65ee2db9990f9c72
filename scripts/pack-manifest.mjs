// The package.json that `npm pack` and `npm publish` ship has no `prepare` script.
//
// The repository needs `prepare` (`npm run build`): `npm install git+<repo>` runs it to build dist/,
// which git does not hold. A published or packed package already holds dist/, and npm 11 lists every
// package installed from a tarball, a folder or git with a `prepare` script among those that want to run
// install scripts ("install-scripts ... (prepare: npm run build)"). So `prepack` builds, then runs
// `strip`, which sets package.json aside and writes it without `prepare`; `postpack` runs `restore`.
// `npm publish` re-reads package.json after packing and sends that to the registry: there `restore`
// waits for `postpublish` (npm sets npm_command), so the registry's manifest has no `prepare` either.
// If a pack or publish fails half-way, `node scripts/pack-manifest.mjs restore` puts package.json back.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

const MANIFEST = "package.json";
const ASIDE = "package.json.before-pack";

const [command, ...rest] = process.argv.slice(2);
if (command === "strip") {
  if (existsSync(ASIDE))
    throw new Error(`${ASIDE} exists: a pack did not finish; run "node scripts/pack-manifest.mjs restore"`);
  if (!existsSync("dist/index.js")) throw new Error("dist/ is missing: build (npm run build) before packing");
  const text = readFileSync(MANIFEST, "utf8");
  const manifest = JSON.parse(text);
  delete manifest.scripts?.prepare;
  writeFileSync(ASIDE, text);
  writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
} else if (command === "restore") {
  const afterPublish = rest.includes("--unless-publishing") && process.env.npm_command === "publish";
  if (!afterPublish && existsSync(ASIDE)) renameSync(ASIDE, MANIFEST);
} else {
  throw new Error("usage: node scripts/pack-manifest.mjs strip | restore [--unless-publishing]");
}
