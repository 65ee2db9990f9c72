// docs/observability.md: reading the diagnostics channels without OpenTelemetry, as an APM or your own
// metrics would. test/integration/diagnostics/channels.test.ts runs it against a real server.
// #region count-refusals
import { tracingChannel } from "node:diagnostics_channel";
import type { HandshakeMessage } from "socket.io-session-auth";

/** Counts refused handshakes by code, from the moment it is called; `stop()` unsubscribes. */
export function countRefusals(): { counts: Map<string, number>; stop(): void } {
  const counts = new Map<string, number>();
  const handshakes = tracingChannel<unknown, HandshakeMessage>("socket.io-session-auth:handshake");
  const onEnd = ({ outcome }: HandshakeMessage) => {
    if (outcome !== undefined && outcome !== "OK") counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  };
  handshakes.asyncEnd.subscribe(onEnd as (message: unknown) => void);
  return { counts, stop: () => handshakes.asyncEnd.unsubscribe(onEnd as (message: unknown) => void) };
}
// #endregion count-refusals
