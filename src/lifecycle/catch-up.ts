import { SESSION_AUTH_ERROR_CODES, type SessionAuthErrorCode } from "../errors.js";
import type { Target } from "./ended.js";

/**
 * The pure part of the catch-up between nodes (issue 18; peers.ts does the I/O): what a peer's end number
 * says, and what a peer's catch-up answer holds. Everything inbound is validated here: the adapter's
 * channel is trusted infrastructure, but a malformed message must never throw inside socket.io's emit.
 */

/** The longest user id an end may name, and the most ends one answer may carry. */
const MAX_USER = 1024;
export const MAX_ENDS = 10_000;
const KEY = /^[0-9a-f]{32}$/;

/**
 * A peer says it has sent ends up to number `theirs`; `had` is the highest heard from it so far (0: none,
 * or an unknown peer), every end up to it applied. `live`: this very message is end number `theirs`,
 * applied on arrival (an end); otherwise it only states the number (a beacon). Missed ends: keep `had`
 * (the catch-up answer moves it on) and catch up; else `seq` is what to remember.
 */
export function hear(had: number, theirs: number, live: boolean): { catchUp: boolean; seq: number } {
  if (theirs > had + (live ? 1 : 0)) return { catchUp: true, seq: had };
  return { catchUp: false, seq: Math.max(had, theirs) };
}

/** An end a peer answered with, to apply `age` ms late. */
export interface CaughtEnd {
  readonly seq: number;
  readonly target: Target;
  readonly code: SessionAuthErrorCode;
  readonly age: number;
}

/**
 * Reads one peer's catch-up answer `{ node, seq, oldest, ends: [{ seq, key | user, code, age }] }` given
 * `had`, the highest number already heard from that node. Returns the ends beyond `had` (malformed items
 * skipped, ages clamped to [1, window] ms), the number to remember, and `lost`: the peer no longer keeps
 * some ends this node never heard (`oldest > had + 1`: a partition longer than the window). `undefined`
 * for an answer that is not one.
 */
export function readAnswer(
  response: unknown,
  hadFrom: (node: string) => number,
  windowMs: number,
): { node: string; seq: number; ends: CaughtEnd[]; lost: boolean } | undefined {
  const answer = response as { node?: unknown; seq?: unknown; oldest?: unknown; ends?: unknown } | null;
  if (typeof answer !== "object" || answer === null || !isNode(answer.node) || !isCount(answer.seq)) return undefined;
  if (!Array.isArray(answer.ends) || answer.ends.length > MAX_ENDS) return undefined;
  const had = hadFrom(answer.node);
  const ends: CaughtEnd[] = [];
  for (const item of answer.ends as unknown[]) {
    const end = item as { seq?: unknown; key?: unknown; user?: unknown; code?: unknown; age?: unknown } | null;
    if (typeof end !== "object" || end === null || !isCount(end.seq) || end.seq <= had) continue;
    const target = targetOf(end);
    if (target === undefined || !isCode(end.code) || typeof end.age !== "number" || !Number.isFinite(end.age)) continue;
    ends.push({ seq: end.seq, target, code: end.code, age: Math.min(Math.max(end.age, 1), windowMs) });
  }
  const lost = had > 0 && isCount(answer.oldest) && answer.oldest > had + 1;
  return { node: answer.node, seq: Math.max(had, answer.seq), ends, lost };
}

/** The session key or user an end names; `undefined` for anything else. */
export function targetOf(message: { key?: unknown; user?: unknown }): Target | undefined {
  if (typeof message.key === "string" && KEY.test(message.key)) return { key: message.key };
  if (typeof message.user === "string" && message.user !== "" && message.user.length <= MAX_USER)
    return { user: message.user };
  return undefined;
}

export function isCode(value: unknown): value is SessionAuthErrorCode {
  return typeof value === "string" && (SESSION_AUTH_ERROR_CODES as readonly string[]).includes(value);
}

/** A node id: `randomUUID()` on this version; any short string is accepted. */
export function isNode(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 64;
}

export function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
