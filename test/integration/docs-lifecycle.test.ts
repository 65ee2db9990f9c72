import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect } from "../support/realtime.js";

// The lifecycle page's app, run as the page says (`npx tsx server.ts`), driven over HTTP and socket.io:
// log in, add to the cart from the socket (update), see it over HTTP, log out, the socket ends.

const APP = fileURLToPath(new URL("../../docs/examples/lifecycle-app.ts", import.meta.url));
let child: ChildProcess;
let url: string;
const output: string[] = [];

beforeAll(async () => {
  child = spawn(process.execPath, ["--import", "tsx", APP], { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start: ${output.join("")}`)), 20_000);
    child.stdout!.on("data", () => {
      const found = /listening on (http:\/\/localhost:\d+)/.exec(output.join(""));
      if (found) {
        clearTimeout(timer);
        resolve(found[1]!.replace("localhost", "127.0.0.1"));
      }
    });
  });
}, 30_000);

afterAll(async () => {
  child?.kill("SIGTERM");
  if (child?.exitCode === null) await once(child, "exit");
});

it("log in, update the session from the socket, see it over HTTP, log out: the socket gets session:ended", async () => {
  const login = await fetch(`${url}/login`, { method: "POST", body: new URLSearchParams({ name: "ada" }), redirect: "manual" });
  expect(login.status).toBe(303);
  const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;

  const socket = await connect(url, { cookie });
  try {
    const first = await socket.timeout(5000).emitWithAck("cart:add", "apple");
    const second = await socket.timeout(5000).emitWithAck("cart:add", "pear");
    expect(first).toEqual({ ok: true, cart: ["apple"] });
    expect(second).toEqual({ ok: true, cart: ["apple", "pear"] });
    // The web app's next request sees what the socket wrote.
    expect(await (await fetch(url, { headers: { cookie } })).text()).toContain("Cart: <span id=\"cart\">apple, pear</span>");

    const ended = new Promise<{ event: unknown; reason: string }>((resolve) => {
      let event: unknown;
      socket.on("session:ended", (payload: unknown) => void (event = payload));
      socket.once("disconnect", (reason) => resolve({ event, reason }));
    });
    const logout = await fetch(`${url}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" });
    expect(logout.status).toBe(303);
    expect(await ended).toEqual({ event: { code: "SESSION_NOT_FOUND" }, reason: "io server disconnect" });
    await expect.poll(() => output.join("")).toContain("a socket ended: SESSION_NOT_FOUND");
  } finally {
    socket.close();
  }
});
