import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { io as ioClient } from "socket.io-client";

describe("docs/examples/quick-start.ts", async () => {
  const { http, io } = await import("../../../docs/examples/quick-start.js");
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  afterAll(async () => {
    await io.close();
  });

  it("logs in over HTTP and the socket knows whose it is", async () => {
    const res = await fetch(`${url}/login`, { method: "POST" });
    const cookie = res.headers.getSetCookie()[0]!.split(";")[0]!;
    const socket = ioClient(url, { extraHeaders: { cookie }, reconnection: false, forceNew: true });
    const hello = await new Promise((resolve, reject) => {
      socket.once("hello", resolve);
      socket.once("connect_error", reject);
    });
    expect(hello).toBe("you are 42");
    socket.close();
  });

  it("is the README's quick start but for the listen call and the page (memory.md shows it)", () => {
    // The README's quick start is a whole app (run as pasted by test/integration/docs/pages.test.ts); this one is the same wiring
    // as a module the tests can import: keep the two from drifting apart.
    const example = readFileSync(new URL("../../../docs/examples/quick-start.ts", import.meta.url), "utf8");
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    for (const line of [
      "const auth = sessionAuth({ store: memoryStore(store), secret });",
      "auth.attach(io); // io.use(auth) on every namespace, and the checks and listeners that run at start",
      "app.use(session({ store, secret, resave: false, saveUninitialized: false }));",
    ]) {
      expect(example).toContain(line);
      expect(readme).toContain(line);
    }
  });
});
