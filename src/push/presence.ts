import type { Namespace } from "socket.io";
import { abortable, withDeadline } from "../internal/deadline.js";
import type { NodeTracker } from "../internal/nodes.js";
import { PushError, isPushError } from "./errors.js";
import type { PushPresenceAnswer } from "./types.js";
import type { PresenceOp } from "./validate.js";

/**
 * How many sockets each user has, counted on every node (`fetchSockets()` through the adapter). The whole
 * answer has one deadline, `clusterTimeout` milliseconds: the adapter's own calls may wait on a Redis that
 * is down (commands queue until it is back). An answer from fewer nodes than `nodes` has seen lately is no
 * answer: it is an `ADAPTER_UNAVAILABLE` refusal, never a partial count.
 */
export async function countPresence(
  nsp: Namespace,
  op: PresenceOp,
  nodes: NodeTracker,
  clusterTimeout: number,
): Promise<PushPresenceAnswer> {
  const unavailable = (message: string, cause?: unknown) => new PushError("ADAPTER_UNAVAILABLE", message, { cause });
  let sockets: Array<{ rooms: Set<string> }>;
  try {
    sockets = await withDeadline(
      async ({ signal }) => {
        // abortable: a serverCount() answered after the deadline must not go on to fetchSockets().
        const count = await abortable(nsp.adapter.serverCount(), signal);
        const expected = nodes.expect(count);
        if (count < expected) {
          throw unavailable(
            `Only ${count} of the ${expected} socket.io nodes seen lately can be reached; no partial count is given. Retry shortly.`,
          );
        }
        return nsp.in(op.users.map(([, room]) => room)).fetchSockets();
      },
      {
        ms: clusterTimeout,
        expired: () =>
          unavailable(
            `The socket.io adapter did not answer within ${clusterTimeout} ms (is Redis down, or a node slow?); no partial count is given.`,
          ),
      },
    );
  } catch (cause) {
    if (isPushError(cause)) throw cause;
    // Reported once, by the HTTP layer's refusal (or the caller of send()).
    throw unavailable(
      "The socket.io adapter could not list the sockets (another node did not answer in time?).",
      cause,
    );
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
  return { ok: true, users };
}
