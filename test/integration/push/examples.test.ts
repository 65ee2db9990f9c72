import { execFile, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../support/realtime.js";

// The docs' snippets are regions of docs/examples/push-*.ts; this file runs those examples, checks the
// pages include them (VitePress `<<<` includes), and runs every curl command of docs/push.md against the example server,
// comparing with the status and body printed under it. (push-node.ts and push-emitter.ts, the examples of
// docs/several-nodes.md, run in push/cluster.test.ts against a real redis-server.)

const TOKEN = "docs-example-token-0123456789";
const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");
/** The page includes `<<< @/examples/<file>#<name>` and the file has that region, with lines in it. */
function expectIncluded(page: string, file: string, name: string): void {
  const lines = read(`docs/examples/${file}`)
    .split("\n")
    .map((line) => line.trim());
  const start = lines.indexOf(`// #region ${name}`);
  expect(start, `${file} has "// #region ${name}"`).toBeGreaterThanOrEqual(0);
  expect(
    lines.indexOf(`// #endregion ${name}`) - start,
    `${file} closes the region ${name}, with lines in it`,
  ).toBeGreaterThan(1);
  expect(read(page)).toContain(`<<< @/examples/${file}#${name}\n`);
}

describe("docs/examples/push-*.ts", () => {
  let url: string;
  let example: typeof import("../../../docs/examples/push-server.js");
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    process.env.PUSH_TOKEN = TOKEN; // read by the examples at import, as in production
    example = await import("../../../docs/examples/push-server.js");
    example.http.listen(0, "127.0.0.1");
    await once(example.http, "listening");
    url = `http://127.0.0.1:${(example.http.address() as AddressInfo).port}`;
    process.env.PUSH_URL = `${url}/push`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await example?.push.close();
    await example?.io.close();
  });

  async function tab(userId: string): Promise<ClientSocket> {
    const res = await fetch(`${url}/login/${userId}`, { method: "POST" });
    const cookie = res.headers.getSetCookie()[0]!.split(";")[0]!;
    const socket = await connect(url, { cookie, transports: ["websocket"] });
    sockets.push(socket);
    return socket;
  }

  it("push-server.ts: a logged-in tab gets what send() pushes to its user", async () => {
    const socket = await tab("99");
    const shipped = new Promise((resolve) => socket.once("order:shipped", resolve));
    expect(await example.notifyOrderShipped("99", 7)).toEqual({ ok: true, id: expect.any(String) });
    expect(await shipped).toEqual({ orderId: 7 });
  });

  it("push-client.ts: acked when the user is online, false when offline; presence counts tabs", async () => {
    const client = await import("../../../docs/examples/push-client.js");
    const socket = await tab("98");
    socket.on("order:shipped", (_data: unknown, ack: () => void) => ack());
    expect(await client.orderShipped("98", 1)).toBe(true);
    expect(await client.orderShipped("nobody", 2)).toBe(false);
    expect(await client.onlineTabs(["98", "nobody"])).toEqual({ 98: 1, nobody: 0 });
  });

  it("push-browser.ts: the page's handlers get the data, and the ack reaches the sender", async () => {
    const { listen } = await import("../../../docs/examples/push-browser.js");
    const socket = await tab("97");
    const shown: unknown[] = [];
    listen(socket, (data) => shown.push(data));
    expect(
      await example.push.send({ to: { user: "97" }, event: "confirm", data: { n: 1 }, ack: { timeout: 5000 } }),
    ).toMatchObject({ recipients: 1, acked: 1, complete: true });
    const shipped = new Promise((resolve) => socket.once("order:shipped", resolve));
    await example.push.send({ to: { user: "97" }, event: "order:shipped", data: { orderId: 3 } });
    await shipped;
    expect(shown).toEqual([{ n: 1 }, { orderId: 3 }]);
  });

  it("docs/push.md includes the examples' regions, and they exist", () => {
    expectIncluded("docs/push.md", "push-server.ts", "push-server");
    expectIncluded("docs/push.md", "push-client.ts", "push-client");
    expectIncluded("docs/push.md", "push-browser.ts", "browser");
  });

  it("docs/several-nodes.md includes the examples' regions, and they exist", () => {
    expectIncluded("docs/several-nodes.md", "push-node.ts", "push-node");
    expectIncluded("docs/several-nodes.md", "push-emitter.ts", "push-emitter");
  });

  const curl = spawnSync("curl", ["--version"], { stdio: "ignore" }).status === 0;
  it.skipIf(!curl && process.env.CI !== "true")(
    "every curl command of docs/push.md gets the answer printed under it",
    async () => {
      const blocks = [...read("docs/push.md").matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
      expect(blocks.length).toBeGreaterThanOrEqual(8);
      for (const block of blocks) {
        const expected = /^# (\d{3}) (.+)$/m.exec(block);
        expect(expected, block).not.toBeNull();
        const command = block.replace(/^#.*$/gm, "").trim();
        // Prints the body, then the status on a line of its own.
        const { stdout } = await promisify(execFile)(
          "bash",
          ["-c", `curl() { command curl -w '\\n%{http_code}' "$@"; }\n${command}`],
          {
            env: { ...process.env, PUSH_URL: `${url}/push`, PUSH_TOKEN: TOKEN },
          },
        );
        const lines = stdout.trimEnd().split("\n");
        const status = lines.pop();
        expect({ command, status }).toEqual({ command, status: expected![1] });
        expect(JSON.parse(lines.join("\n")), command).toEqual(placeholders(JSON.parse(expected![2]!)));
      }
    },
  );
});

/** The documented body, with every "…" string standing for any string. */
function placeholders(value: unknown): unknown {
  if (typeof value === "string" && value.includes("…")) return expect.any(String);
  if (Array.isArray(value)) return value.map(placeholders);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, placeholders(item)]));
  return value;
}
