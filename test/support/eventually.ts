/**
 * Retries `attempt` until it resolves, polling every 100 ms; after `ms` it fails with the last error.
 * For conditions that become true by themselves (a client reconnecting with its own backoff, a TTL).
 */
export async function eventually<T>(attempt: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
