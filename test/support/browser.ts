import { accessSync, constants, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";

/** Debian's chromium (apt-get install chromium). playwright-core never downloads a browser of its own. */
export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--no-sandbox", // containers and CI runners usually lack the user namespaces the sandbox needs
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  // Nothing but the demo on 127.0.0.1: no update checks, no component downloads, no sync.
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where screenshots go (gitignored): test-output/<name>/ at the repository root. */
export function outputDir(name: string): string {
  const dir = join(fileURLToPath(new URL("../../test-output/", import.meta.url)), name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Whether the browser tests can run here. A missing chromium skips them with one loud line, except under
 * CI=true, where it is a failure: .ci/run installs chromium, so its absence there is a broken setup.
 */
export function chromiumAvailable(): boolean {
  let found = true;
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    found = false;
  }
  if (!found && process.env.CI === "true") {
    throw new Error(
      `The browser tests need ${CHROMIUM} in CI (CI=true); .ci/run installs it with apt-get install -y chromium.`,
    );
  }
  if (!found) {
    console.warn(
      `!!! SKIPPING the browser tests: ${CHROMIUM} is missing. Install Debian's chromium to run them: sudo apt-get install -y chromium (nothing is ever downloaded by playwright-core).`,
    );
  }
  return found;
}

/**
 * Launches headless chromium. Each launch gets a fresh, empty user-data dir (playwright-core makes a
 * temporary profile and deletes it on close), so no cookie or cache survives from another run.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
}
