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
}

export type ServerRequest =
  | { type: "setup"; redisPort: number }
  | { type: "mark"; collect: boolean }
  | { type: "drain"; variant: string; timeoutMs: number }
  | { type: "exit" };

export type ClientRequest =
  | { type: "open"; url: string; cookie: string; transport: Transport; outcome: Outcome; count: number; concurrency: number; timeoutMs: number }
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
