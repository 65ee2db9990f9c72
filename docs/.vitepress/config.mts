import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig, type DefaultTheme } from "vitepress";

const apiDir = fileURLToPath(new URL("../api/", import.meta.url));

const KINDS = ["classes", "functions", "interfaces", "type-aliases", "variables"];
const KIND_TITLES: Record<string, string> = {
  classes: "Classes",
  functions: "Functions",
  interfaces: "Interfaces",
  "type-aliases": "Type aliases",
  variables: "Variables",
};

/**
 * The API sidebar, read from what `npm run docs:api` (typedoc + typedoc-plugin-markdown) generated:
 * one collapsed group per entry point (a folder with an index.md), its members by kind.
 */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  if (!existsSync(apiDir)) return [];
  const modules: DefaultTheme.SidebarItem[] = [];
  const visit = (relative: string): void => {
    const dir = apiDir + relative;
    const entries = readdirSync(dir, { withFileTypes: true });
    const pages = (kind: string) =>
      readdirSync(dir + kind)
        .filter((file) => file.endsWith(".md"))
        .sort()
        .map((file) => ({ text: file.slice(0, -3), link: `/api/${relative}${kind}/${file.slice(0, -3)}` }));
    if (relative !== "" && entries.some((entry) => entry.name === "index.md")) {
      const kinds = entries
        .filter((entry) => entry.isDirectory() && KINDS.includes(entry.name))
        .map((entry) => entry.name);
      modules.push({
        text: relative.slice(0, -1),
        link: `/api/${relative}`,
        collapsed: true,
        items: kinds
          .sort((a, b) => KINDS.indexOf(a) - KINDS.indexOf(b))
          .map((kind) => ({ text: KIND_TITLES[kind], items: pages(kind) })),
      });
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !KINDS.includes(entry.name)) visit(`${relative}${entry.name}/`);
    }
  };
  visit("");
  return modules.sort((a, b) => a.text!.localeCompare(b.text!));
}

const guide: DefaultTheme.SidebarItem[] = [
  {
    text: "Guide",
    items: [
      { text: "Getting started", link: "/getting-started" },
      { text: "Session lifecycle", link: "/lifecycle" },
      { text: "Security", link: "/security" },
      { text: "Observability", link: "/observability" },
      { text: "Errors", link: "/errors" },
      { text: "Migrating", link: "/migrating" },
    ],
  },
  {
    text: "Frameworks",
    items: [
      { text: "Fastify", link: "/fastify" },
      { text: "NestJS", link: "/nest" },
    ],
  },
  {
    text: "Stores",
    items: [
      { text: "Memory handle", link: "/memory" },
      { text: "Redis (connect-redis)", link: "/redis" },
      { text: "MongoDB (connect-mongo)", link: "/mongo" },
      { text: "PostgreSQL (connect-pg-simple)", link: "/postgres" },
      { text: "Cookie sessions", link: "/cookie-sessions" },
      { text: "Better Auth", link: "/better-auth" },
      { text: "Auth.js (NextAuth.js)", link: "/authjs" },
      { text: "iron-session", link: "/iron-session" },
      { text: "Any express-session store", link: "/any-store" },
      { text: "Writing an adapter", link: "/writing-an-adapter" },
    ],
  },
  {
    text: "Push and scale",
    items: [
      { text: "Push router", link: "/push" },
      { text: "Several nodes", link: "/several-nodes" },
      { text: "Other engines", link: "/engines" },
      { text: "Benchmarks", link: "/benchmarks" },
    ],
  },
  { text: "API reference", link: "/api/" },
];

export default defineConfig({
  title: "socket.io-session-auth",
  description:
    "Know whose socket it is: authenticate socket.io handshakes with the session cookie your web app already issues.",
  lang: "en-US",
  lastUpdated: false,
  head: [["link", { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" }]],
  // Dead links fail the build (VitePress's default): keep it that way.
  // An include of a .mjs or .cjs file takes its language from the extension, which the highlighter does
  // not know (the build warned and showed such blocks as plain text).
  markdown: { languageAlias: { mjs: "js", cjs: "js" } },
  // The one chunk over Vite's 500 kB warning is the local search index (about 600 kB, the API reference
  // included), fetched only when the reader opens the search box: no code to split. The limit stays close
  // above it, so a code chunk that grows that large, or an index that grows by a sixth, is still warned of.
  vite: { build: { chunkSizeWarningLimit: 700 } },
  themeConfig: {
    nav: [
      {
        text: "Guide",
        link: "/getting-started",
        activeMatch: "^/(getting-started|lifecycle|security|observability|errors|migrating|fastify|nest)",
      },
      {
        text: "Stores",
        link: "/memory",
        activeMatch:
          "^/(memory|redis|mongo|postgres|cookie-sessions|better-auth|authjs|iron-session|any-store|writing-an-adapter)",
      },
      { text: "Push", link: "/push", activeMatch: "^/(push|several-nodes|engines)" },
      { text: "API", link: "/api/", activeMatch: "^/api/" },
    ],
    sidebar: {
      "/api/": [
        { text: "Guide", link: "/getting-started" },
        { text: "API reference", link: "/api/", items: apiSidebar() },
      ],
      "/": guide,
    },
    outline: { level: [2, 3] },
    search: { provider: "local" },
  },
});
