// A local typedoc plugin: the API reference names each module by the import users write
// ("socket.io-session-auth/redis"), not by its folder in this repository ("adapters/redis").
import { Converter } from "typedoc";

const PUBLIC_NAMES = {
  src: "socket.io-session-auth",
  "src/adapter": "socket.io-session-auth/adapter",
  "src/push": "socket.io-session-auth/push",
  "src/push/client-entry": "socket.io-session-auth/push-client",
  "src/testing": "socket.io-session-auth/testing",
  "adapters/memory": "socket.io-session-auth/memory",
  "adapters/redis": "socket.io-session-auth/redis",
  "adapters/mongo": "socket.io-session-auth/mongo",
  "adapters/cookie": "socket.io-session-auth/cookie",
  "adapters/postgres": "socket.io-session-auth/postgres",
  "adapters/better-auth": "socket.io-session-auth/better-auth",
  "adapters/otel": "socket.io-session-auth/otel",
};

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.children ?? []) {
      const name = PUBLIC_NAMES[module.name];
      if (name === undefined) {
        throw new Error(
          `typedoc-entry-names: no public name for the entry point "${module.name}"; add it to PUBLIC_NAMES.`,
        );
      }
      module.name = name;
    }
  });
}
