import { randomUUID } from "node:crypto";
import type { Namespace, Server } from "socket.io";
import { countingAdapter, operatorClass, type Operator } from "../internal/socketio.js";
import { PushError, isPushError } from "./errors.js";
import {
  fingerprint,
  memoryAnswers,
  redisAnswers,
  type AnswerStore,
  type Claim,
  type ClaimPlan,
  type PushRedisClient,
} from "./idempotency.js";
import { createNodeTracker, type NodeTracker } from "../internal/nodes.js";
import type { PushAccepted, PushBatchAnswer, PushDelivered, PushFailure, PushOk, PushPresenceAnswer } from "./types.js";
import { countPresence } from "./presence.js";
import type { DisconnectOp, EmitOp, PresenceOp, RoomsOp, Scope } from "./validate.js";

/** An answer as HTTP gives it; `send()` hands back the body. */
export interface Outcome<B = PushAccepted | PushDelivered | PushBatchAnswer | PushOk | PushPresenceAnswer> {
  readonly status: number;
  readonly body: B;
}

export interface ExecutorOptions {
  /** Namespaces served, by name. */
  namespaces: readonly string[];
  idempotency: IdempotencyConfig | false;
  /** Milliseconds a cluster-wide answer (presence) may take before it is a 503. */
  clusterTimeout: number;
  /** Milliseconds a drop in the number of nodes must hold before it is believed (see internal/nodes.ts). */
  nodeSettle: number;
  /** Sees unexpected failures (adapter errors, bugs), with the cause attached. */
  onError: (error: PushError) => void;
  /** With a full `sessionAuth` as `auth`: ends users and sessions through its lifecycle. */
  lifecycle?:
    { endSession(sessionId: string): Promise<unknown>; endUser(userId: string): Promise<unknown> } | undefined;
}

export type IdempotencyConfig =
  | { readonly ttl: number; readonly maxKeys: number; readonly redis?: undefined }
  | { readonly ttl: number; readonly redis: PushRedisClient; readonly prefix: string; readonly timeout: number };

export interface Executor {
  /**
   * One message (HTTP or `send()`); remembered under `key`, else under its `id`. Without a key or acks the
   * answer is synchronous (no promise on the hot path); a refusal is then thrown.
   */
  message(
    op: EmitOp,
    key: string | undefined,
  ): Outcome<PushAccepted | PushDelivered> | Promise<Outcome<PushAccepted | PushDelivered>>;
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
type AckCallback = (error: Error | null, responses: unknown[]) => void;

const ACCEPTED = 202;
const OK = 200;
const NEVER = new Promise<never>(() => {});
/** The extra time a pending answer (acks) may take past its ack timeout before a repeat stops waiting. */
const ACK_MARGIN_MS = 1000;

/**
 * The one executor: runs validated operations through socket.io's own broadcast machinery, so a socket
 * matched by several rooms gets a message once and the adapter (in memory, or Redis for several nodes)
 * carries it everywhere. Emission happens synchronously, before the returned promise settles, so callers
 * that do not await still emit in call order.
 */
export function createExecutor(io: Server, options: ExecutorOptions): Executor {
  const served = new Set(options.namespaces);
  const config = options.idempotency;
  const store: AnswerStore | null =
    config === false
      ? null
      : config.redis !== undefined
        ? redisAnswers({
            client: config.redis,
            prefix: config.prefix,
            ttl: config.ttl,
            timeout: config.timeout,
            onError: options.onError,
          })
        : memoryAnswers(config);
  const running = new Set<Promise<unknown>>();
  const trackers = new Map<string, NodeTracker>();
  // Our own operators (see internal/socketio.ts), so the ack path can hand one an adapter that counts recipients.
  const Operator = operatorClass(io);

  function namespace(name: string): Namespace {
    // The validator only lets served namespaces through; this is the executor refusing to guess.
    if (!served.has(name))
      throw new PushError("UNKNOWN_NAMESPACE", `namespace ${JSON.stringify(name)} is not served.`, {
        path: "namespace",
      });
    // Looked up at each operation, not once at start: a child of a dynamic namespace (io.of(/regex/))
    // exists only once the app made it, with its parent's middleware, and may be cleaned up and made again.
    return io.of(name);
  }

  function tracker(name: string): NodeTracker {
    let found = trackers.get(name);
    if (found === undefined) trackers.set(name, (found = createNodeTracker({ settle: options.nodeSettle })));
    return found;
  }

  function operator(scope: Scope, adapter?: Adapter, timeout?: number): Operator {
    const nsp = namespace(scope.namespace);
    if (scope.rooms !== null && scope.rooms.length === 0) {
      // An empty room set means "everyone" to socket.io: never reach it by accident.
      throw new PushError("INTERNAL_ERROR", "refusing to broadcast: an empty target list reached the executor.");
    }
    return new Operator(
      adapter ?? nsp.adapter,
      new Set(scope.rooms ?? []),
      new Set(scope.except),
      timeout === undefined ? {} : { timeout },
    );
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    running.add(promise);
    const forget = () => void running.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Runs `run` once per key within the ttl, on every node the store reaches; a repeat with the same
   * fingerprint gets the first answer (even one still pending), one with another fingerprint a 422.
   * With the in-process store the claim is synchronous, so `run` emits before this returns.
   */
  function remembered<B extends Outcome>(
    key: string,
    print: string,
    plan: ClaimPlan<B>,
    run: () => B | Promise<B>,
  ): Promise<B> {
    let claim: Claim<B> | Promise<Claim<B>>;
    try {
      claim = store!.claim<B>(key, print, plan);
    } catch (error) {
      return Promise.reject(error);
    }
    // A claim in Redis is a round trip: close() waits for it as for acks, so nothing is emitted after it.
    return claim instanceof Promise ? track(claim.then((taken) => runClaimed(taken, run))) : runClaimed(claim, run);
  }

  /** `run` as a promise, a synchronous throw included. */
  function attempt<B>(run: () => B | Promise<B>): Promise<B> {
    try {
      return Promise.resolve(run());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function runClaimed<B extends Outcome>(claim: Claim<B>, run: () => B | Promise<B>): Promise<B> {
    if (!claim.fresh) return claim.answer;
    const result = attempt(run);
    result.then(
      (outcome) => claim.settle(outcome),
      (error: unknown) => claim.abandon(error),
    );
    return result;
  }

  /** What a key is bound to: everything that decides who gets what. */
  function printOf(kind: string, op: EmitOp): string {
    const { scope } = op;
    try {
      return fingerprint([
        kind,
        op.id ?? null,
        scope.namespace,
        scope.rooms === null ? null : [...scope.rooms].sort(),
        [...scope.except].sort(),
        op.event,
        op.ackTimeout,
        op.data,
      ]);
    } catch (cause) {
      throw unencodable(cause);
    }
  }

  function unencodable(cause: unknown): PushError {
    if (isPushError(cause)) return cause;
    const name = cause instanceof Error ? cause.name : typeof cause;
    return new PushError(
      "INVALID_MESSAGE",
      `data: socket.io could not send it (${name}): is it cyclic, or nested too deeply?`,
      { path: "data", cause },
    );
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
    const nodes = tracker(op.scope.namespace);
    let recipients = 0;
    // The adapter reports each node's recipient count, which a partial (timed-out) answer needs: count it
    // on the way through (see countingAdapter). socket.io waits for as many nodes as serverCount() says, and calls the answer complete when they
    // all answered: ask for every node known to exist (see internal/nodes.ts), so an answer from fewer nodes times
    // out as `complete: false`. socket.io does not catch a failed serverCount() (an unhandled
    // rejection): wait instead, and let the timeout give the partial answer.
    const counting = countingAdapter(
      adapter,
      (count) => void (recipients += count),
      () =>
        adapter.serverCount().then(
          (count) => nodes.expect(count),
          () => NEVER,
        ),
    );
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

  /**
   * How a repeat of a message is answered while it runs: a fire-and-forget one's answer is known before
   * it runs; an acked one's is waited for, up to its ack timeout.
   */
  const planOf = (op: EmitOp, id: string): ClaimPlan<Outcome<PushAccepted | PushDelivered>> =>
    op.ackTimeout === null
      ? { known: { status: ACCEPTED, body: { ok: true, id } }, wait: 0 }
      : { wait: op.ackTimeout + ACK_MARGIN_MS };

  function once(kind: "message" | "legacy", op: EmitOp, key: string): Promise<Outcome<PushAccepted | PushDelivered>> {
    const id = messageId(op, key);
    return remembered(`${kind}\n${key}`, printOf(kind, op), planOf(op, id), () => emit(op, id));
  }

  return {
    message(op, key) {
      const remember = key ?? op.id;
      // The hot path, a fire-and-forget push without a key: no promise, no memory.
      if (remember === undefined || store === null) return emit(op, messageId(op, key));
      return once("message", op, remember);
    },
    legacy(op, key) {
      if (key === undefined || store === null)
        return Promise.resolve(emit(op, messageId(op, key)) as Outcome<PushAccepted>);
      return once("legacy", op, key) as Promise<Outcome<PushAccepted>>;
    },
    batch(ops, key) {
      const run = async (): Promise<Outcome<PushBatchAnswer>> => {
        type Item = (PushAccepted | PushDelivered | PushFailure) & { status: number };
        const failed = (error: unknown, op: EmitOp): Item => {
          const refused = failure(error);
          // The item's own id, when it has one, says which message a refusal (a reused id) is about.
          return op.id === undefined
            ? { status: refused.status, ...refused.toJSON() }
            : { status: refused.status, ...refused.toJSON(), id: op.id };
        };
        // Every item's key is claimed first (in order: one Redis connection answers in order), then the
        // items are emitted in order, so a shared store cannot reorder them. Acks of one item do not hold
        // back the next.
        const claims = ops.map((op) => {
          if (op.id === undefined || store === null) return Promise.resolve(null);
          try {
            return Promise.resolve(store.claim(`message\n${op.id}`, printOf("message", op), planOf(op, op.id)));
          } catch (error) {
            return Promise.reject(error);
          }
        });
        const taken = await Promise.allSettled(claims);
        const pending = ops.map((op, index): Promise<Item> => {
          const claim = taken[index]!;
          if (claim.status === "rejected") return Promise.resolve(failed(claim.reason, op));
          const run = () => emit(op, messageId(op, undefined));
          const outcome = claim.value === null ? attempt(run) : runClaimed(claim.value, run);
          return outcome.then(
            (done) => ({ status: done.status, ...done.body }),
            (error: unknown) => failed(error, op),
          );
        });
        return { status: OK, body: { ok: true, results: await Promise.all(pending) } };
      };
      if (key === undefined || store === null) return run();
      let print: string;
      try {
        print = fingerprint(["batch", ...ops.map((op) => printOf("message", op))]);
      } catch (error) {
        return Promise.reject(error);
      }
      const longest = Math.max(0, ...ops.map((op) => op.ackTimeout ?? 0));
      return remembered(`batch\n${key}`, print, { wait: longest + ACK_MARGIN_MS }, run);
    },
    disconnect(op) {
      const lifecycle = options.lifecycle;
      if (lifecycle !== undefined && op.ends !== null) {
        // The lifecycle's path: the endEvent, onSessionEnd, on every node (through serverSideEmit).
        for (const id of op.ends.sessions)
          lifecycle
            .endSession(id)
            .catch((cause: unknown) =>
              options.onError(new PushError("INTERNAL_ERROR", "endSession failed.", { cause })),
            );
        for (const id of op.ends.users)
          lifecycle
            .endUser(id)
            .catch((cause: unknown) => options.onError(new PushError("INTERNAL_ERROR", "endUser failed.", { cause })));
        return { status: ACCEPTED, body: { ok: true } };
      }
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
      const answer = countPresence(namespace(op.namespace), op, tracker(op.namespace), options.clusterTimeout);
      return track(answer.then((body) => ({ status: OK, body })));
    },
    async drain() {
      await Promise.allSettled([...running]);
      store?.clear();
    },
  };
}
