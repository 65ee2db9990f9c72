import {
  describeFailure,
  emitWarning,
  redisNotReady,
  type RedisFlavor,
  type SessionStore,
} from "socket.io-session-auth/adapter";
import {
  addressing,
  removeListener,
  type ClusterProbe,
  type Emitter,
  type Listener,
  type RedisClientLike,
} from "./client.js";

// Redis keyspace notifications for the store's `subscribe`: a session key deleted (connect-redis's
// destroy, a logout), expired or evicted ends its sockets at once, on every node.

/** The key events that end a session, and the reason each one reports. */
const KEY_EVENTS = { del: "destroyed", expired: "expired", evicted: "destroyed" } as const;

type OnDestroyed = Parameters<NonNullable<SessionStore["subscribe"]>>[0];

/** The store's `subscribe`, and what stops it when the store closes. */
export interface KeyspaceEvents {
  subscribe(onDestroyed: OnDestroyed): () => void;
  stop(): void;
}

/**
 * One subscription per store, on `subscriber`, shared by every `subscribe()` call: it starts with the
 * first and stops with the last. Session keys are `client`'s key prefix plus `prefix`, in `client`'s
 * database. The server's `notify-keyspace-events` is checked when it starts and again after every
 * reconnection of the subscriber (a restart loses flags set by CONFIG SET), warned once each time it is
 * found short; meanwhile the lifecycle's re-reads end deleted sessions, later.
 */
export function keyspaceEvents(
  client: RedisClientLike,
  subscriber: RedisClientLike,
  flavor: RedisFlavor,
  prefix: string,
): KeyspaceEvents {
  const callbacks = new Set<OnDestroyed>();
  let subscription: Subscription | undefined;
  let closed = false;
  // Once per problem found: reset by a check that finds the flags set, so flags lost to a restart later
  // are warned about again.
  let warned = false;
  const warnOnce = (message: string): void => {
    if (warned) return;
    warned = true;
    emitWarning("KEYSPACE_EVENTS", message);
  };
  const check = (when: string): void => {
    void checkKeyspaceEvents(client, flavor).then((problem) => {
      if (closed || subscription === undefined) return;
      if (problem === undefined) warned = false;
      else warnOnce(`socket.io-session-auth: redisStore({ subscriber }) ${when}${problem}`);
    });
  };
  // notify-keyspace-events set by CONFIG SET is lost when Redis restarts, and nothing tells a subscriber
  // (issue 18, item 3): read it again after every reconnection of the subscriber, once `client` (which
  // runs the CONFIG GET; the subscriber cannot) is ready too.
  let waitingForClient = false;
  const recheck = (): void => {
    if (closed || subscription === undefined) return;
    if (redisNotReady(client) !== undefined) {
      if (waitingForClient) return;
      waitingForClient = true;
      (client as unknown as Emitter).on("ready", function onClientReady() {
        removeListener(client as unknown as Emitter, "ready", onClientReady);
        waitingForClient = false;
        recheck();
      });
      return;
    }
    check("after the subscriber reconnected: ");
  };
  const onSubscriberReady: Listener = () => recheck();
  return {
    subscribe(onDestroyed) {
      const callback: OnDestroyed = (id, reason) => onDestroyed(id, reason);
      callbacks.add(callback);
      if (subscription === undefined && !closed) {
        const { db, keyPrefix } = addressing(client);
        const fullPrefix = keyPrefix + prefix;
        subscription = subscribeKeyEvents(
          subscriber,
          flavor,
          db,
          (event, key) => {
            if (!key.startsWith(fullPrefix)) return;
            const id = key.slice(fullPrefix.length);
            for (const each of [...callbacks]) {
              try {
                each(id, KEY_EVENTS[event]);
              } catch {
                // One subscriber's failure must not keep the others from hearing of the end.
              }
            }
          },
          warnOnce,
        );
        check("");
        (subscriber as unknown as Emitter).on("ready", onSubscriberReady);
      }
      return () => {
        callbacks.delete(callback);
        if (callbacks.size === 0) {
          removeListener(subscriber as unknown as Emitter, "ready", onSubscriberReady);
          subscription?.stop();
          subscription = undefined;
        }
      };
    },
    stop() {
      closed = true;
      removeListener(subscriber as unknown as Emitter, "ready", onSubscriberReady);
      subscription?.stop();
      subscription = undefined;
      callbacks.clear();
    },
  };
}

interface Subscription {
  stop(): void;
}

type KeyEvent = keyof typeof KEY_EVENTS;
type PubSubClient = {
  subscribe(...args: unknown[]): PromiseLike<unknown>;
  unsubscribe(...args: unknown[]): PromiseLike<unknown>;
  on(event: string, listener: Listener): unknown;
  off?(event: string, listener: Listener): unknown;
  removeListener?(event: string, listener: Listener): unknown;
};

const RETRY_MS = [250, 1000, 5000, 15_000];

/**
 * Listens to `__keyevent@<db>__:del|expired|evicted` (keyevent notifications: their message is the key)
 * on `subscriber`, or on each master of a Cluster (keyspace events are published only on the node that
 * holds the key). A failed SUBSCRIBE is retried with a growing delay; once subscribed, both drivers
 * subscribe again by themselves after a reconnection (ioredis `autoResubscribe`, node-redis's PubSub).
 */
function subscribeKeyEvents(
  subscriber: RedisClientLike,
  flavor: RedisFlavor,
  db: number,
  onEvent: (event: KeyEvent, key: string) => void,
  warn: (message: string) => void,
): Subscription {
  const channels = (Object.keys(KEY_EVENTS) as KeyEvent[]).map((event) => `__keyevent@${db}__:${event}`);
  const eventOf = (channel: unknown): KeyEvent | undefined => {
    const name = String(channel);
    const index = channels.indexOf(name);
    return index === -1 ? undefined : (Object.keys(KEY_EVENTS) as KeyEvent[])[index];
  };
  const deliver = (channel: unknown, message: unknown): void => {
    const event = eventOf(channel);
    if (event !== undefined)
      onEvent(event, message instanceof Uint8Array ? Buffer.from(message).toString("utf8") : String(message));
  };
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const later = (attempt: number, task: () => void): void => {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        if (!stopped) task();
      },
      RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)],
    );
    timer.unref();
    timers.add(timer);
  };
  const failed = (cause: unknown): void =>
    warn(
      `socket.io-session-auth: redisStore({ subscriber }) could not subscribe to key events (${describeFailure(cause)}); it keeps trying, and sockets of sessions deleted meanwhile are ended by the next re-read instead.`,
    );

  // One node (a single Redis, or one master of a Cluster): subscribe, retrying until it works.
  const listenOn = (node: PubSubClient): (() => void) => {
    let undo = (): void => {};
    let nodeStopped = false;
    if (flavor === "ioredis") {
      const onMessage: Listener = (channel, message) => deliver(channel, message);
      node.on("message", onMessage);
      const attempt = (n: number): void => {
        Promise.resolve(node.subscribe(...channels)).then(undefined, (cause: unknown) => {
          if (nodeStopped || stopped) return;
          failed(cause);
          later(n + 1, () => attempt(n + 1));
        });
      };
      attempt(0);
      undo = () => {
        removeListener(node, "message", onMessage);
        Promise.resolve(node.unsubscribe(...channels)).then(undefined, () => {});
      };
    } else {
      const listener = (message: unknown, channel: unknown): void => deliver(channel, message);
      const attempt = (n: number): void => {
        Promise.resolve(node.subscribe(channels, listener)).then(undefined, (cause: unknown) => {
          if (nodeStopped || stopped) return;
          failed(cause);
          later(n + 1, () => attempt(n + 1));
        });
      };
      attempt(0);
      undo = () => {
        Promise.resolve(node.unsubscribe(channels, listener)).then(undefined, () => {});
      };
    }
    return () => {
      nodeStopped = true;
      undo();
    };
  };

  const cluster = subscriber as ClusterProbe & { on?: unknown };
  if (typeof cluster.nodes === "function") {
    // ioredis Cluster: its own connection to each master (not the client's), re-scanned whenever the
    // topology changes, so a new or promoted master is listened to and a removed one let go.
    const listening = new Map<unknown, () => void>();
    const scan = (): void => {
      if (stopped) return;
      const masters = (cluster.nodes as (role: string) => PubSubClient[]).call(subscriber, "master");
      for (const node of masters) if (!listening.has(node)) listening.set(node, listenOn(node));
      for (const [node, stop] of listening) {
        if (!masters.includes(node as PubSubClient)) {
          stop();
          listening.delete(node);
        }
      }
    };
    const events = ["ready", "refresh", "+node", "-node"];
    const onChange: Listener = () => queueMicrotask(scan);
    for (const event of events) (subscriber as unknown as PubSubClient).on(event, onChange);
    scan();
    return {
      stop() {
        stopped = true;
        for (const event of events) removeListener(subscriber as unknown as PubSubClient, event, onChange);
        for (const stop of listening.values()) stop();
        listening.clear();
        for (const timer of timers) clearTimeout(timer);
      },
    };
  }
  if (Array.isArray(cluster.masters) && typeof cluster.nodeClient === "function") {
    // node-redis cluster: the cluster's own client of each master, which resubscribes after a reconnection.
    // Masters are read once, when the subscription starts (node-redis emits no topology event to re-scan on).
    const stops: Array<() => void> = [];
    for (const master of cluster.masters as unknown[]) {
      const attach = (n: number): void => {
        Promise.resolve(
          (cluster.nodeClient as (node: unknown) => PromiseLike<PubSubClient> | PubSubClient).call(subscriber, master),
        ).then(
          (node) => {
            if (stopped) return;
            stops.push(listenOn(node));
          },
          (cause: unknown) => {
            if (stopped) return;
            failed(cause);
            later(n + 1, () => attach(n + 1));
          },
        );
      };
      attach(0);
    }
    return {
      stop() {
        stopped = true;
        for (const stop of stops.splice(0)) stop();
        for (const timer of timers) clearTimeout(timer);
      },
    };
  }
  const stop = listenOn(subscriber as unknown as PubSubClient);
  return {
    stop() {
      stopped = true;
      stop();
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

/**
 * Reads `notify-keyspace-events` (CONFIG GET) on the client's server, or on each master of a Cluster,
 * and says what is missing for the subscription; undefined when the flags are set. Never rejects: a
 * server that refuses CONFIG (managed Redis often does) is itself the problem to report.
 */
async function checkKeyspaceEvents(client: RedisClientLike, flavor: RedisFlavor): Promise<string | undefined> {
  try {
    const nodes = await serversOf(client);
    for (const node of nodes) {
      const reply =
        flavor === "ioredis"
          ? await (node as { config(...args: string[]): PromiseLike<unknown> }).config("GET", "notify-keyspace-events")
          : await (node as { configGet(name: string): PromiseLike<unknown> }).configGet("notify-keyspace-events");
      const flags = Array.isArray(reply)
        ? reply[1]
        : (reply as Record<string, unknown> | null)?.["notify-keyspace-events"];
      if (typeof flags !== "string")
        return 'could not read the server\'s notify-keyspace-events (CONFIG GET answered something else); make sure it includes "Egxe", or deleted and expired sessions will not end their sockets at once.';
      const missing = missingFlags(flags);
      if (missing !== "") {
        const setting =
          nodes.length > 1
            ? `the notify-keyspace-events of the master ${addressOf(node)}`
            : "the server's notify-keyspace-events";
        return `needs key-event notifications, but ${setting} is "${flags}" (missing "${missing}"): set it to include "Egxe" (CONFIG SET notify-keyspace-events Egxe, or notify-keyspace-events in redis.conf${nodes.length > 1 ? ", on every master" : ""}); until then deleted and expired sessions end their sockets only at the next re-read.`;
      }
    }
    return undefined;
  } catch (cause) {
    return `could not check the server's notify-keyspace-events (CONFIG GET failed: ${describeFailure(cause)}; managed Redis services often refuse CONFIG). Make sure it includes "Egxe" in the service's settings, or deleted and expired sessions end their sockets only at the next re-read.`;
  }
}

async function serversOf(client: RedisClientLike): Promise<unknown[]> {
  const cluster = client as ClusterProbe;
  if (typeof cluster.nodes === "function") return (cluster.nodes as (role: string) => unknown[]).call(client, "master");
  if (Array.isArray(cluster.masters) && typeof cluster.nodeClient === "function") {
    return Promise.all(
      (cluster.masters as unknown[]).map((master) =>
        (cluster.nodeClient as (node: unknown) => unknown).call(client, master),
      ),
    );
  }
  return [client];
}

/** A cluster node's address for a warning (host names and ports are no secret; credentials are left out). */
function addressOf(node: unknown): string {
  const options = (
    node as { options?: { host?: unknown; port?: unknown; socket?: { host?: unknown; port?: unknown } } }
  ).options;
  const host = options?.host ?? options?.socket?.host;
  const port = options?.port ?? options?.socket?.port;
  return typeof host === "string" && (typeof port === "number" || typeof port === "string")
    ? `${host}:${port}`
    : "(address unknown)";
}

/** The flags of `Egxe` that `flags` lacks ("A" stands for "g$lshzxetd", which includes g, x and e). */
function missingFlags(flags: string): string {
  const all = flags.includes("A");
  return ["E", "g", "x", "e"].filter((flag) => !(flags.includes(flag) || (flag !== "E" && all))).join("");
}

/** The error's kind and code for a warning: a driver's message may carry a host name or a key. */
