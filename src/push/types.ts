/** One target or several (an array). */
export type OneOrMany<T> = T | readonly T[];

/**
 * Who gets the message: any mix of users, rooms, sockets and sessions (a socket in several of them gets it
 * once), or exactly `{ all: true }`. An empty `to` is refused, never taken for "everyone".
 */
export interface PushTargets {
  /**
   * User ids, as `identify` returns them; each becomes the user room (`user:<id>` by default). A number
   * must be a safe integer (`Number.isSafeInteger`): a larger JSON number is rounded to another user's
   * id, so it is a 400; send such ids as strings.
   */
  user?: OneOrMany<string | number>;
  /** Room names, used as they are. */
  room?: OneOrMany<string>;
  /** socket.io socket ids. */
  socket?: OneOrMany<string>;
  /** Session ids (the raw ids, server-side only): each is hashed into its session room. */
  session?: OneOrMany<string>;
}

/** Every connected socket of the namespace. */
export interface PushToAll {
  all: true;
}

export type PushTo = PushTargets | PushToAll;

/** Sockets left out even when `to` matches them. */
export interface PushExcept {
  /** As {@link PushTargets.user}: numbers must be safe integers. */
  user?: OneOrMany<string | number>;
  room?: OneOrMany<string>;
  socket?: OneOrMany<string>;
}

/** Milliseconds the router waits for acknowledgements when `ack` gives no `timeout`. */
export const DEFAULT_ACK_TIMEOUT = 5000;
/** The longest `ack.timeout` the router accepts, in milliseconds. */
export const MAX_ACK_TIMEOUT = 30_000;

export interface PushAckOptions {
  /** Milliseconds to wait for the acknowledgements, 1 to 30 000 (default 5000). */
  timeout?: number;
}

/** A message for the router, over HTTP (`POST <path>`) or in code (`send()`). */
export interface PushMessage {
  /**
   * Your id for this message (1 to 200 characters); also its idempotency key when no `Idempotency-Key`
   * header is sent. Used again with another payload, it is a 422 `IDEMPOTENCY_KEY_REUSED`.
   */
  id?: string;
  to: PushTo;
  except?: PushExcept;
  /** Default `"/"`. */
  namespace?: string;
  /** Default `"message"`. Not one of socket.io's reserved names. */
  event?: string;
  /** The one argument the client's handler receives (`null` when absent). */
  data?: unknown;
  /** Wait for the clients' acknowledgements and count them. */
  ack?: PushAckOptions;
}

/** The answer to a message without `ack`: handed to socket.io (HTTP 202). */
export interface PushAccepted {
  ok: true;
  id: string;
}

/** The answer to a message with `ack` (HTTP 200). */
export interface PushDelivered extends PushAccepted {
  /** Sockets the message was sent to, on every node that answered in time. */
  recipients: number;
  /** Sockets that acknowledged before the timeout. */
  acked: number;
  /** Every node and every recipient answered before the timeout. */
  complete: boolean;
}

export type PushAnswer = PushAccepted | PushDelivered;

/** What `send()` resolves with: {@link PushDelivered} when the message asks for acks. */
export type PushAnswerFor<M extends PushMessage> = M extends { ack: PushAckOptions } ? PushDelivered : PushAccepted;

/** One failed item of a batch. */
export interface PushFailure {
  ok: false;
  error: { code: string; message: string; path?: string };
  /** The message's own `id`, when it had one (in batch results: which message a refusal is about). */
  id?: string;
}

/** `POST <path>/batch`: one result per message, in order, each with the status it would have had alone. */
export interface PushBatchAnswer {
  ok: true;
  results: Array<(PushAccepted | PushDelivered | PushFailure) & { status: number }>;
}

/** `POST <path>/disconnect`. */
export interface PushDisconnectRequest {
  to: PushTo;
  except?: PushExcept;
  namespace?: string;
  /** Also close the underlying connection (every namespace of that client); default false. */
  close?: boolean;
}

/** `POST <path>/rooms/join` and `/rooms/leave`. */
export interface PushRoomsRequest {
  to: PushTo;
  except?: PushExcept;
  namespace?: string;
  rooms: OneOrMany<string>;
}

/** `POST <path>/presence`. */
export interface PushPresenceRequest {
  /** User ids; numbers must be safe integers. */
  users: ReadonlyArray<string | number>;
  namespace?: string;
}

/** How many sockets each user has online, cluster-wide. */
export interface PushPresenceAnswer {
  ok: true;
  users: Record<string, number>;
}

/** `POST <path>/legacy`: the original blog format. `single` sends to a user, `room` to a room. */
export interface PushLegacyMessage {
  type: "single" | "room" | "all";
  /** The user id (`single`; a number must be a safe integer) or the room (`room`). */
  pointer?: string | number;
  content?: unknown;
}

/** The answers without a body of their own (disconnect, rooms). */
export interface PushOk {
  ok: true;
}
