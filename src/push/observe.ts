import { publishPush } from "../observe.js";
import type { Executor } from "./execute.js";

// The push router's outcomes on the `socket.io-session-auth:push` channel (DESIGN "Observability"): one
// message per operation, with its kind, "ok" or the refusal's code, and the status HTTP answers. Nothing
// of the message (its event, data, user or session ids) is published. Nobody listening: the executor as is.

type Operation = Exclude<keyof Executor, "drain">;
const OPERATIONS: readonly Operation[] = ["message", "legacy", "batch", "disconnect", "join", "leave", "presence"];

/** `executor` with every operation's outcome published on the `push` channel (when someone listens). */
export function observed(executor: Executor): Executor {
  const wrapped: Record<string, unknown> = { ...executor };
  for (const operation of OPERATIONS) {
    const run = executor[operation] as (...args: unknown[]) => unknown;
    wrapped[operation] = (...args: unknown[]) => {
      const ok = (outcome: unknown): unknown => {
        publishPush(() => ({ operation, outcome: "ok", status: (outcome as { status?: number } | null)?.status }));
        return outcome;
      };
      const failed = (error: unknown): never => {
        publishPush(() => ({
          operation,
          outcome: codeOf(error),
          status: (error as { status?: number } | null)?.status,
        }));
        throw error;
      };
      let result: unknown;
      try {
        result = run.apply(executor, args);
      } catch (error) {
        return failed(error);
      }
      return result instanceof Promise ? result.then(ok, failed) : ok(result);
    };
  }
  return wrapped as unknown as Executor;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "FAILED";
}
