import type { ChildProcess } from "node:child_process";

/** Messages between bench/run.ts and its two child processes (server.ts, client.ts), over Node's IPC. */

export type Transport = "websocket" | "polling";

/** What a connection of a variant is expected to end in. */
export type Outcome = "accept" | "refuse";

export interface VariantInfo {
  id: string;
  label: string;
  port: number;
  cookie: string;
  outcome: Outcome;
  /** Whether the variant talks to Redis (its Redis command counts are reported). */
  redis: boolean;
  /** Whether the library's diagnostics channels are subscribed (no-op handlers) during its batches. */
  observed?: boolean;
}

export type ServerRequest =
  | {
      type: "setup";
      redisPort: number;
      /** Sessions to write per store: at least a batch's connections, so none of a batch share one. */
      sessions: number;
      /** Only these variants listen (the others are not set up on a port), when given. */
      only?: string[];
      /**
       * `timeout` (ms) of every `sessionAuth`, when given (else the library's default, 2000): the store
       * deadline, and how often the lookups' one deadline timer fires. bench:instructions runs the server
       * under valgrind, some 50 times slower, where a pause of 40 ms (a garbage collection, a compile)
       * takes 2 s.
       */
      storeTimeout?: number;
      /** A PostgreSQL with connect-pg-simple's table, when one could be started: adds the postgres variants. */
      postgres?: { host: string; port: number; user: string; database: string };
    }
  | { type: "mark"; collect: boolean }
  /** Subscribes (or unsubscribes) no-op handlers to every diagnostics channel of the library. */
  | { type: "observe"; on: boolean }
  | { type: "drain"; variant: string; timeoutMs: number }
  | { type: "exit" };

export type ClientRequest =
  | {
      type: "open";
      url: string;
      cookie: string;
      transport: Transport;
      outcome: Outcome;
      count: number;
      concurrency: number;
      timeoutMs: number;
    }
  | { type: "close" }
  | { type: "exit" };

export interface OpenResult {
  /** Connections that ended as the variant expects (accepted, or refused). */
  ok: number;
  /** Connections that ended otherwise (refused when they should connect, timed out...). */
  wrong: number;
  /** A sample of what went wrong, for the error message. */
  sample?: string;
  wallMs: number;
}

export interface Reply<T = unknown> {
  id: number;
  ok: boolean;
  value?: T;
  error?: string;
}

/** `process.cpuUsage()` in microseconds at a mark. */
export interface Mark {
  user: number;
  system: number;
}

/**
 * The child side of the runner's channel: answers each request with `handle`'s result (or its error), and
 * exits when the runner goes away, so a child never outlives it.
 */
export function serveRunner<R>(handle: (request: R) => Promise<unknown>): void {
  process.on("message", (raw: { id: number; request: R }) => {
    handle(raw.request).then(
      (value) => process.send!({ id: raw.id, ok: true, value } satisfies Reply),
      (error: unknown) =>
        process.send!({ id: raw.id, ok: false, error: String((error as Error)?.stack ?? error) } satisfies Reply),
    );
  });
  process.on("disconnect", () => process.exit(0));
}

/** Request/reply over a child's IPC channel, each request bounded in time. */
export function channel<Request>(child: ChildProcess, name: string) {
  let seq = 0;
  const pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();
  child.on("message", (reply: Reply) => {
    const waiting = pending.get(reply.id);
    if (waiting === undefined) return;
    pending.delete(reply.id);
    clearTimeout(waiting.timer);
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(new Error(`${name}: ${reply.error}`));
  });
  child.on("exit", (code, signal) => {
    for (const waiting of pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error(`${name} exited (${signal ?? code})`));
    }
    pending.clear();
  });
  return <T>(request: Request, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${name} did not answer ${JSON.stringify(request).slice(0, 80)} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      child.send({ id, request });
    });
}
