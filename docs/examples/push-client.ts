// #region push-client
import { createPushClient, PushError } from "socket.io-session-auth/push-client";

const push = createPushClient({
  url: process.env.PUSH_URL ?? "http://127.0.0.1:3000/push",
  token: process.env.PUSH_TOKEN!, // one of the router's tokens
  timeout: 5000, // per attempt
  retries: 2, // network errors, timeouts and 5xx, with backoff and the same Idempotency-Key
});

export async function orderShipped(userId: string, orderId: number): Promise<boolean> {
  try {
    const answer = await push.send({
      id: `order-${orderId}-shipped`, // a retry, or a second call, within 5 minutes is not sent twice
      to: { user: userId },
      event: "order:shipped",
      data: { orderId },
      ack: { timeout: 3000 }, // wait for the browsers to confirm
    });
    return answer.acked > 0; // false: the user is offline (recipients: 0), send an e-mail instead
  } catch (error) {
    if (error instanceof PushError && error.status === 400) {
      throw new Error(`bug in the push message (${error.code} at ${error.path})`, { cause: error });
    }
    throw error; // 401: wrong token; status 0 or 5xx: still failing after the retries
  }
}

export async function onlineTabs(userIds: string[]): Promise<Record<string, number>> {
  return push.presence(userIds); // { "42": 2, "7": 0 }, counted on every node
}
// #endregion push-client
