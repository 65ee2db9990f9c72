/**
 * "ioredis or node-redis, and is it connected now?", decided once for the Redis store (adapters/redis)
 * and the push router's idempotency store. Told by what the client has, never by a version number, and
 * typed structurally so no entry point's types name a driver the user did not install.
 */

/** `ioredis` (Redis and Cluster), `node-redis` (v4+ client and cluster), or `promise`: a client we can only `get` from. */
export type RedisFlavor = "ioredis" | "node-redis" | "promise";

/** The members read at run time; none is required of a client. */
interface ReadinessProbe {
  status?: unknown; // ioredis: "wait" | "connecting" | "connect" | "ready" | "reconnecting" | "close" | "end"...
  isReady?: unknown; // node-redis v4.1+ client and cluster
  isOpen?: unknown; // node-redis v4+ client and cluster
}

export function redisFlavor(client: unknown): RedisFlavor {
  const probe = (typeof client === "object" && client !== null ? client : {}) as ReadinessProbe;
  if (typeof probe.status === "string") return "ioredis";
  if (typeof probe.isReady === "boolean" || typeof probe.isOpen === "boolean") return "node-redis";
  return "promise";
}

/**
 * Why `client` cannot take a command now, or undefined when it can: ioredis `status` other than "ready"
 * (or "wait": lazyConnect before its first command, which sending one connects), node-redis `isReady`
 * (`isOpen` before v4.1) false. A client of neither kind is taken as ready. A command sent to a client
 * that is not ready would wait in its offline queue, past every deadline, and be applied long after.
 */
export function redisNotReady(client: unknown): string | undefined {
  const probe = client as ReadinessProbe;
  switch (redisFlavor(client)) {
    case "ioredis":
      if (probe.status === "ready" || probe.status === "wait") return undefined;
      return probe.status === "end"
        ? 'status "end": the client was closed and will not reconnect'
        : `status "${String(probe.status)}"`;
    case "node-redis": {
      const ready = typeof probe.isReady === "boolean" ? probe.isReady : probe.isOpen;
      if (ready === true) return undefined;
      return probe.isOpen === false
        ? "not open: call `await client.connect()` (it will not reconnect by itself)"
        : "reconnecting";
    }
    default:
      return undefined;
  }
}
