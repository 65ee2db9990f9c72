import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { io as ioClient } from "socket.io-client";

describe("docs/examples/quick-start.ts", async () => {
  const { http, io } = await import("../../docs/examples/quick-start.js");
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

  it("is what the README shows, line for line", () => {
    const example = readFileSync(new URL("../../docs/examples/quick-start.ts", import.meta.url), "utf8");
    const region = example.split("// #region quick-start\n")[1]!.split("// #endregion quick-start")[0]!.trim();
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    expect(readme).toContain(region);
  });
});

describe("docs/examples/typed-session.ts", () => {
  it("authenticates a typed session and runs the typed authorize", async () => {
    const { auth, io, store } = await import("../../docs/examples/typed-session.js");
    const { signSessionCookie } = await import("socket.io-session-auth/testing");
    const put = (id: string, value: object) => new Promise<void>((resolve) => store.set(id, value as never, () => resolve()));
    await put("pro-sid", { cookie: { originalMaxAge: null, expires: null }, account: { id: 7, plan: "pro" } });
    await put("free-sid", { cookie: { originalMaxAge: null, expires: null }, account: { id: 8, plan: "free" } });
    const secret = process.env.SESSION_SECRET ?? "dev only";
    const req = (sid: string) => ({ headers: { cookie: signSessionCookie({ value: sid, secret }) }, url: "/" }) as never;
    expect((await auth.authenticate(req("pro-sid"))).userId).toBe("7");
    await expect(auth.authenticate(req("free-sid"))).rejects.toMatchObject({ code: "FORBIDDEN" });
    await io.close();
  });
});
