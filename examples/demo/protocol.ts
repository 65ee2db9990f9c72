/**
 * What the page, the web side (web.ts) and the live side (live.ts) agree on: the rooms a user may join
 * and the notices the push form sends.
 */

/**
 * The rooms of the demo. A fixed list on purpose: a page that could name any room could join `user:bob`
 * and read bob's pushes, or `session:<hash>` and read another session's.
 */
export const DEMO_ROOMS = ["general", "releases", "random"] as const;
export type DemoRoom = (typeof DEMO_ROOMS)[number];

export function isDemoRoom(value: unknown): value is DemoRoom {
  return typeof value === "string" && (DEMO_ROOMS as readonly string[]).includes(value);
}

/** The socket.io room of a demo room: a prefix of its own, apart from `user:` and `session:`. */
export function roomOf(room: DemoRoom): string {
  return `room:${room}`;
}

/** The event every push of the page's form is emitted as. */
export const NOTICE_EVENT = "notice";

/** Who a notice was pushed to, as the page shows it. */
export type NoticeTarget = { kind: "user"; name: string } | { kind: "room"; name: DemoRoom } | { kind: "all" };

/** The data of a {@link NOTICE_EVENT}. `from` is the pusher's user id, read from their session by the server. */
export interface Notice {
  id: string;
  from: string;
  to: NoticeTarget;
  text: string;
  /** ms since the epoch, server clock. */
  at: number;
}

/** What `POST /api/push` answers: the push router's delivery report, or why nothing was sent. */
export type PushReply =
  { ok: true; id: string; recipients: number; acked: number; complete: boolean } | { ok: false; error: string };
