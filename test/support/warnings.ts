import { onTestFinished } from "vitest";

/** A process warning as Node hands it to `process.on("warning")`, with the code it was emitted with. */
export type Warning = Error & { code?: string };

/**
 * Collects the process warnings emitted from now until the end of the running test, through a
 * `process.on("warning")` listener (so test/support/quiet-output.ts leaves them to the test to assert).
 * Warnings are delivered on the next tick: await something (a request, `setImmediate`) before reading.
 *
 * @returns The warnings so far, and their codes (`SOCKET_IO_SESSION_AUTH_CORS`...).
 */
export function captureWarnings(): { readonly warnings: Warning[]; codes(): Array<string | undefined> } {
  const warnings: Warning[] = [];
  const listener = (warning: Warning) => void warnings.push(warning);
  process.on("warning", listener);
  onTestFinished(() => void process.off("warning", listener));
  return { warnings, codes: () => warnings.map((warning) => warning.code) };
}
