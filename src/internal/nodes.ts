/**
 * How many nodes a cluster-wide answer must hear from. socket.io's adapters say how many nodes there are
 * (`serverCount()`: Redis `PUBSUB NUMSUB`, or heartbeats), but right after a Redis outage a live node that
 * has not re-subscribed yet is not counted: an answer gathered then comes from fewer nodes than exist, and
 * looks complete. So a drop in the count is believed only once it has held for `settle` ms; until then the
 * highest count seen is what a complete answer needs. A node that really left costs that long of
 * partial answers (presence 503, `complete: false`); a node that is briefly missing never makes a false one.
 */
export interface NodeTracker {
  /** Records a count just read; returns how many nodes a complete answer needs now. */
  expect(count: number): number;
}

export function createNodeTracker(options: { settle: number; now?: () => number }): NodeTracker {
  const { settle, now = () => performance.now() } = options;
  let highest = 0;
  let lowerSince: number | undefined;
  return {
    expect(count) {
      if (count >= highest) {
        highest = count;
        lowerSince = undefined;
        return count;
      }
      const at = now();
      lowerSince ??= at;
      if (at - lowerSince >= settle) {
        highest = count;
        lowerSince = undefined;
        return count;
      }
      return highest;
    },
  };
}
