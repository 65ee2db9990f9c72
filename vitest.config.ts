import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests and docs examples import the package by its public names, as users do.
    alias: [
      { find: /^socket\.io-session-auth$/, replacement: here("./src/index.ts") },
      { find: /^socket\.io-session-auth\/adapter$/, replacement: here("./src/adapter.ts") },
      { find: /^socket\.io-session-auth\/push-client$/, replacement: here("./src/push/client-entry.ts") },
      { find: /^socket\.io-session-auth\/(push|testing)$/, replacement: here("./src/$1/index.ts") },
      {
        find: /^socket\.io-session-auth\/(memory|redis|mongo|cookie|postgres|better-auth|authjs|iron-session|otel)$/,
        replacement: here("./adapters/$1/index.ts"),
      },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "docs/examples/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: "forks",
    globalSetup: [],
    // The package's own warnings and first-refusal lines are checked there, not printed.
    setupFiles: ["test/support/quiet-output.ts"],
  },
});
