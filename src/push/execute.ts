import { randomUUID } from "node:crypto";
import type { BroadcastOperator, Namespace, Server } from "socket.io";
import { PushError, isPushError } from "./errors.js";
import { createIdempotencyCache, type IdempotencyCache } from "./idempotency.js";
import type { PushAccepted, PushBatchAnswer, PushDelivered, PushOk, PushPresenceAnswer } from "./types.js";
import type { DisconnectOp, EmitOp, PresenceOp, RoomsOp, Scope } from "./validate.js";

/** An answer as HTTP gives it; `send()` hands back the body. */
export interface Outcome<B = PushAccepted | PushDelivered | PushBatchAnswer | PushOk | PushPresenceAnswer> {
  readonly status: number;
  readonly body: B;
}

export interface ExecutorOptions {
  /** Namespaces served, by name. */
  namespaces: readonly string[];
  idempotency: { ttl: number; maxKeys: number } | false;
  /** Sees unexpected failures (adapter errors, bugs), with the cause attached. */
  onError: (error: PushError) => void;
}

export interface Executor {
  /**
   * One message (HTTP or `send()`); remembered under `key`, else under its `id`. Without a key or acks the
   * answer is synchronous (no promise on the hot path); a refusal is then thrown.
   */
  message(op: EmitOp, key: string | undefined): Outcome<PushAccepted | PushDelivered> | Promise<Outcome<PushAccepted | PushDelivered>>;
  legacy(op: EmitOp, key: string | undefined): Promise<Outcome<PushAccepted>>;
  batch(ops: readonly EmitOp[], key: string | undefined): Promise<Outcome<PushBatchAnswer>>;
  disconnect(op: DisconnectOp): Outcome<PushOk>;
  join(op: RoomsOp): Outcome<PushOk>;
  leave(op: RoomsOp): Outcome<PushOk>;
  presence(op: PresenceOp): Promise<Outcome<PushPresenceAnswer>>;
  /** Waits for the operations still running (acks, presence), then forgets every key. */
  drain(): Promise<void>;
}

type Adapter = Namespace["adapter"];
type Operator = BroadcastOperator<Record<string, (...args: unknown[]) => void>, unknown>;
type AckCallback = (error: Error | null, responses: unknown[]) => void;
type OperatorClass = new (adapter: Adapter, rooms?: Set<string>, except?: Set<string>, flags?: { timeout?: number }) => Operator;

const ACCEPTED = 202;
const OK = 200;
const NEVER = new Promise<never>(() => {});

/**
 * The one executor: runs validated operations through socket.io's own broadcast machinery, so a socket
 * matched by several rooms gets a message once and the adapter (in memory, or Redis for several nodes)
 * carries it everywhere. Emission happens synchronously, before the returned promise settles, so callers
 * that do not await still emit in call order.
 */
export function createExecutor(io: Server, options: ExecutorOptions): Executor {
  const served = new Set(options.namespaces);
  const cache: IdempotencyCache<Promise<Outcome>> | null = options.idempotency === false ? null : createIdempotencyCache(options.idempotency);
  const running = new Set<Promise<unknown>>();
  // socket.io declares BroadcastOperator (and its constructor) public but exports it as a type only; the
  // class itself is the one behind every `nsp.to()`. Building our own lets the ack path hand it an adapter
  // that counts recipients (see emitWithAck) while socket.io keeps its own completeness and timeout logic.
  const Operator = io.to("").constructor as OperatorClass;

  function namespace(name: string): Namespace {
    // The validator only lets served namespaces through; this is the executor refusing to guess.
    if (!served.has(name)) throw new PushError("UNKNOWN_NAMESPACE", `namespace ${JSON.stringify(name)} is not served.`, { path: "namespace" });
    // Looked up at each operation, not once at start: a child of a dynamic namespace (io.of(/regex/))
    // exists only once the app made it, with its parent's middleware, and may be cleaned up and made again.
    return io.of(name);
  }

  function operator(scope: Scope, adapter?: Adapter, timeout?: number): Operator {
    const nsp = namespace(scope.namespace);
    if (scope.rooms !== null && scope.rooms.length === 0) {
      // An empty room set means "everyone" to socket.io: never reach it by accident.
      throw new PushError("INTERNAL_ERROR", "refusing to broadcast: an empty target list reached the executor.");
    }
    return new Operator(adapter ?? nsp.adapter, new Set(scope.rooms ?? []), new Set(scope.except), timeout === undefined ? {} : { timeout });
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    running.add(promise);
    const forget = () => void running.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Runs `run` once per key within the ttl; a repeat gets the first answer (even one still pending). */
  function remembered<B extends Outcome>(kind: string, key: string | undefined, run: () => B | Promise<B>): Promise<B> {
    const start = (): Promise<B> => {
      try {
        return Promise.resolve(run());
      } catch (error) {
        return Promise.reject(error);
      }
    };
    if (key === undefined || cache === null) return start();
    const cacheKey = `${kind}\n${key}`;
    const seen = cache.get(cacheKey);
    if (seen !== undefined) return seen as Promise<B>;
    const pending = start();
    cache.set(cacheKey, pending);
    // A failure is not an answer worth replaying: let the retry run for real.
    pending.catch(() => {
      if (cache.get(cacheKey) === pending) cache.delete(cacheKey);
    });
    return pending;
  }

  function unencodable(cause: unknown): PushError {
    if (isPushError(cause)) return cause;
    const name = cause instanceof Error ? cause.name : typeof cause;
    return new PushError("INVALID_MESSAGE", `data: socket.io could not send it (${name}): is it cyclic, or nested too deeply?`, { path: "data", cause });
  }

  function emit(op: EmitOp, id: string): Outcome<PushAccepted> | Promise<Outcome<PushDelivered>> {
    if (op.ackTimeout !== null) return track(emitWithAck(op, op.ackTimeout, id));
    try {
      operator(op.scope).emit(op.event, op.data);
    } catch (cause) {
      throw unencodable(cause);
    }
    return { status: ACCEPTED, body: { ok: true, id } };
  }

  function emitWithAck(op: EmitOp, timeout: number, id: string): Promise<Outcome<PushDelivered>> {
    const adapter = namespace(op.scope.namespace).adapter;
    let recipients = 0;
    // socket.io's broadcast-with-ack reports the responses but not how many sockets were sent the message,
    // which a partial (timed-out) answer needs. The adapter reports it, per node, to this callback: count it
    // on the way through. Only these two methods are replaced; everything else is the adapter itself.
    const counting: Adapter = Object.create(adapter, {
      broadcastWithAck: {
        value: (packet: unknown, opts: Parameters<Adapter["broadcastWithAck"]>[1], onCount: (count: number) => void, onAck: (...args: unknown[]) => void) =>
          adapter.broadcastWithAck(packet, opts, (count) => {
            recipients += count;
            onCount(count);
          }, onAck),
      },
      // socket.io does not catch a failed serverCount(): an unhandled rejection. Wait instead, and let the
      // timeout give the partial answer.
      serverCount: { value: () => adapter.serverCount().catch(() => NEVER) },
    });
    return new Promise((resolve, reject) => {
      const done: AckCallback = (error, responses) =>
        resolve({ status: OK, body: { ok: true, id, recipients, acked: responses.length, complete: error === null } });
      try {
        operator(op.scope, counting, timeout).emit(op.event, op.data, done);
      } catch (cause) {
        reject(unencodable(cause));
      }
    });
  }

  function messageId(op: EmitOp, key: string | undefined): string {
    return op.id ?? key ?? randomUUID();
  }

  function failure(error: unknown): PushError {
    if (isPushError(error)) return error;
    const wrapped = new PushError("INTERNAL_ERROR", "The push router failed unexpectedly.", { cause: error });
    options.onError(wrapped);
    return wrapped;
  }

  return {
    message(op, key) {
      const remember = key ?? op.id;
      // The hot path, a fire-and-forget push without a key: no promise, no memory.
      if (remember === undefined || cache === null) return emit(op, messageId(op, key));
      return remembered("message", remember, () => emit(op, messageId(op, key)));
    },
    legacy(op, key) {
      return remembered("legacy", key, () => emit(op, messageId(op, key)) as Outcome<PushAccepted>);
    },
    batch(ops, key) {
      return remembered("batch", key, async () => {
        // Started in order (each emits synchronously), awaited together: acks of one item do not hold back the next.
        const pending = ops.map((op) =>
          remembered("message", op.id, () => emit(op, messageId(op, undefined))).then(
            (outcome) => ({ status: outcome.status, ...outcome.body }),
            (error: unknown) => {
              const refused = failure(error);
              return { status: refused.status, ...refused.toJSON() };
            },
          ),
        );
        return { status: OK, body: { ok: true, results: await Promise.all(pending) } };
      });
    },
    disconnect(op) {
      operator(op.scope).disconnectSockets(op.close);
      return { status: ACCEPTED, body: { ok: true } };
    },
    join(op) {
      operator(op.scope).socketsJoin([...op.rooms]);
      return { status: ACCEPTED, body: { ok: true } };
    },
    leave(op) {
      operator(op.scope).socketsLeave([...op.rooms]);
      return { status: ACCEPTED, body: { ok: true } };
    },
    presence(op) {
      const nsp = namespace(op.namespace);
      return track(
        (async () => {
          let sockets: Array<{ rooms: Set<string> }>;
          try {
            sockets = await nsp.in(op.users.map(([, room]) => room)).fetchSockets();
          } catch (cause) {
            // Reported once, by the HTTP layer's refusal (or the caller of send()).
            throw new PushError("ADAPTER_UNAVAILABLE", "The socket.io adapter could not list the sockets (another node did not answer in time?).", { cause });
          }
          const byRoom = new Map(op.users.map(([id, room]) => [room, id]));
          // A null prototype: user ids are caller-chosen keys ("__proto__" included).
          const users: Record<string, number> = Object.create(null);
          for (const [id] of op.users) users[id] = 0;
          for (const socket of sockets) {
            for (const room of socket.rooms) {
              const id = byRoom.get(room);
              if (id !== undefined) users[id]! += 1;
            }
          }
          return { status: OK, body: { ok: true as const, users } };
        })(),
      );
    },
    async drain() {
      await Promise.allSettled([...running]);
      cache?.clear();
    },
  };
}
