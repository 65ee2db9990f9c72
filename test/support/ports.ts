import { once } from "node:events";
import { createServer, type Server } from "node:net";

/**
 * `count` distinct free TCP ports on 127.0.0.1: every probe listens until all are picked, so none repeats;
 * all are closed again before this resolves (the caller's servers listen on them).
 */
export async function freePorts(count: number): Promise<number[]> {
  const probes: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const probe = createServer();
      probe.listen(0, "127.0.0.1");
      await once(probe, "listening");
      probes.push(probe);
    }
    return probes.map((probe) => (probe.address() as { port: number }).port);
  } finally {
    await Promise.all(probes.map((probe) => new Promise<void>((resolve) => probe.close(() => resolve()))));
  }
}

/** One free TCP port on 127.0.0.1 (closed again at once: the caller listens on it). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}
