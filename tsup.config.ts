import { existsSync } from "node:fs";
import { defineConfig } from "tsup";

// Every entry point of the exports map; an adapter whose folder is not there yet is skipped here and
// must be absent from package.json's exports too (publint checks that every export resolves).
const entries: Record<string, string> = {
  index: "src/index.ts",
  adapter: "src/adapter.ts",
  push: "src/push/index.ts",
  "push-client": "src/push/client-entry.ts",
  testing: "src/testing/index.ts",
  memory: "adapters/memory/index.ts",
  redis: "adapters/redis/index.ts",
  mongo: "adapters/mongo/index.ts",
  cookie: "adapters/cookie/index.ts",
  postgres: "adapters/postgres/index.ts",
  "better-auth": "adapters/better-auth/index.ts",
  authjs: "adapters/authjs/index.ts",
  "iron-session": "adapters/iron-session/index.ts",
  otel: "adapters/otel/index.ts",
};

// One build for every entry point. `splitting` is on for CJS too, so the core that the entries
// share is one module at run time in both formats (one SessionAuthError class, not one per entry).
export default defineConfig({
  entry: Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file))),
  format: ["esm", "cjs"],
  dts: true,
  splitting: true,
  clean: true,
  sourcemap: false,
  target: "node20",
  platform: "node",
  tsconfig: "tsconfig.build.json",
  external: [
    "socket.io",
    "ioredis",
    "mongodb",
    "pg",
    "vitest",
    "better-auth",
    "@auth/core",
    "next-auth",
    "iron-session",
    "@opentelemetry/api",
  ],
});
