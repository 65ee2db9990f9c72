import { KEYGRIP_ALGORITHMS, SIGNING_SCHEMES, type KeygripAlgorithm, type SigningScheme } from "./cookies.js";
import { defaultIdentify } from "./identify.js";
import { rejectUnknownOptions } from "./internal/options.js";
import { RESERVED_EVENTS } from "./internal/socketio.js";
import type { OriginPolicy } from "./origin.js";
import { resolveRooms, type RoomNaming } from "./rooms.js";
import type { SessionStore, StoreCookie } from "./store.js";
import type { SessionAuthOptions } from "./types.js";
import { hmacKeys } from "./secrets.js";
import type { KeyObject } from "node:crypto";

export interface Config<S extends object> {
  store: SessionStore<S>;
  /** The first of `names`. */
  name: string;
  /** Cookie names tried in order (the store's declared ones, or `[name]`). */
  names: readonly string[];
  /** Whether the cookie may come in chunks (`<name>.0`, `<name>.1`, …), as the store declares. */
  chunked: boolean;
  signing: SigningScheme;
  /** HMAC keys, made once here from `secret` (or the store's declared secrets). */
  secrets: readonly KeyObject[];
  algorithm: KeygripAlgorithm;
  timeout: number;
  rooms: RoomNaming;
  identify: (session: S) => unknown;
  allowAnonymous: boolean;
  authorize: SessionAuthOptions<S>["authorize"];
  onError: SessionAuthOptions<S>["onError"];
  origins: OriginPolicy | undefined;
  revalidate: number | null;
  /** How long a session's last good read may stand in for a handshake's own read (ms), or null for never. */
  sharedReadMaxAge: number | null;
  endEvent: string | null;
  onSessionEnd: SessionAuthOptions<S>["onSessionEnd"];
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_REVALIDATE_MS = 300_000;
const DEFAULT_SHARED_READ_MAX_AGE_MS = 5_000;
export const MAX_TIMEOUT_MS = 2_147_483_647; // setTimeout's limit
const KNOWN_OPTIONS = new Set([
  "store",
  "secret",
  "name",
  "signing",
  "algorithm",
  "origins",
  "identify",
  "allowAnonymous",
  "authorize",
  "timeout",
  "rooms",
  "onError",
  "revalidate",
  "sharedReadMaxAge",
  "endEvent",
  "onSessionEnd",
]);
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // RFC 6265 token

export function validate<S extends object>(options: SessionAuthOptions<S>): Config<S> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("sessionAuth: pass an options object, e.g. sessionAuth({ store, secret }).");
  }
  rejectUnknownOptions("sessionAuth", options, KNOWN_OPTIONS, {
    hints: {
      secrets: "secret",
      keys: "secret",
      cookieName: "name",
      key: "name",
      revalidateInterval: "revalidate",
      interval: "revalidate",
      onEnd: "onSessionEnd",
      sharedReads: "sharedReadMaxAge",
      shareReads: "sharedReadMaxAge",
    },
  });
  const {
    store,
    algorithm,
    allowAnonymous = false,
    authorize,
    timeout = DEFAULT_TIMEOUT_MS,
    rooms,
    onError,
    revalidate = DEFAULT_REVALIDATE_MS,
    sharedReadMaxAge,
    endEvent = "session:ended",
    onSessionEnd,
  } = options;
  let { secret, name, signing, identify } = options;

  if (
    typeof store !== "object" ||
    store === null ||
    typeof store.get !== "function" ||
    typeof store.name !== "string"
  ) {
    throw new TypeError(
      "sessionAuth: `store` is required: a SessionStore such as memoryStore(expressSessionStore), redisStore({ client }), mongoStore({ collection }) or cookieStore().",
    );
  }
  const declared = storeCookie(store);
  identify ??= typeof store.identify === "function" ? (session: S) => store.identify!(session) : defaultIdentify;
  signing ??= declared?.signing ?? "express";
  // The store's secrets go with the store's signing: sessionAuth's own `signing` means its own secret.
  if (secret === undefined && declared?.secrets !== undefined && signing === declared.signing)
    secret = declared.secrets;
  if (!SIGNING_SCHEMES.includes(signing)) {
    throw new TypeError(
      `sessionAuth: \`signing\` must be one of ${SIGNING_SCHEMES.map((s) => `"${s}"`).join(", ")}; got ${JSON.stringify(signing)}.`,
    );
  }
  if (algorithm !== undefined) {
    if (signing !== "keygrip") throw new TypeError('sessionAuth: `algorithm` applies only to `signing: "keygrip"`.');
    if (!KEYGRIP_ALGORITHMS.includes(algorithm)) {
      throw new TypeError(
        `sessionAuth: \`algorithm\` must be one of ${KEYGRIP_ALGORITHMS.map((a) => `"${a}"`).join(", ")}.`,
      );
    }
  }
  let secrets: readonly KeyObject[] = [];
  if (signing !== "none") {
    if (secret === undefined || secret === "" || (Array.isArray(secret) && secret.length === 0)) {
      throw new TypeError(
        `sessionAuth: \`secret\` is required with \`signing: "${signing}"\`: the session middleware's secret, or an array of them (the first signs, every one verifies), each a non-empty string, a Buffer or a secret KeyObject.`,
      );
    }
    secrets = hmacKeys(secret, "sessionAuth: `secret`");
  } else if (options.secret !== undefined) {
    throw new TypeError(
      declared?.signing === "none"
        ? `sessionAuth: \`secret\` was given, but store "${store.name}" verifies its cookie itself: give the secret to the store, not to sessionAuth.`
        : 'sessionAuth: `secret` was given with `signing: "none"`, which verifies nothing; pick the signing scheme of your session library.',
    );
  }
  const names = name !== undefined ? [name] : (declared?.names ?? ["connect.sid"]);
  name = names[0];
  for (const each of names) {
    if (typeof each !== "string" || !COOKIE_NAME.test(each)) {
      throw new TypeError(
        `sessionAuth: \`name\` must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~); got ${JSON.stringify(each)}.`,
      );
    }
  }
  const chunked = declared?.chunked === true;
  if (chunked && signing === "keygrip") {
    throw new TypeError(
      `sessionAuth: store "${store.name}" declares a chunked cookie, which keygrip signing cannot read; leave \`signing\` to the store.`,
    );
  }
  if (!isDuration(timeout)) {
    throw new TypeError(
      `sessionAuth: \`timeout\` must be a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS}; got ${String(timeout)}.`,
    );
  }
  if (revalidate !== false && !isDuration(revalidate)) {
    throw new TypeError(
      `sessionAuth: \`revalidate\` must be false or a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS}; got ${String(revalidate)}.`,
    );
  }
  if (sharedReadMaxAge !== undefined && sharedReadMaxAge !== false && !isDuration(sharedReadMaxAge)) {
    throw new TypeError(
      `sessionAuth: \`sharedReadMaxAge\` must be false or a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS}; got ${String(sharedReadMaxAge)}.`,
    );
  }
  if (endEvent !== false && (typeof endEvent !== "string" || endEvent === "" || RESERVED_EVENTS.has(endEvent))) {
    throw new TypeError(
      `sessionAuth: \`endEvent\` must be false or an event name that socket.io does not reserve (not ${[...RESERVED_EVENTS].join(", ")}); got ${JSON.stringify(endEvent)}.`,
    );
  }
  if (typeof identify !== "function")
    throw new TypeError("sessionAuth: `identify` must be a function (session) => userId.");
  if (authorize !== undefined && typeof authorize !== "function")
    throw new TypeError("sessionAuth: `authorize` must be a function.");
  if (onError !== undefined && typeof onError !== "function")
    throw new TypeError("sessionAuth: `onError` must be a function (error, req) => void.");
  if (onSessionEnd !== undefined && typeof onSessionEnd !== "function") {
    throw new TypeError("sessionAuth: `onSessionEnd` must be a function (error, socket) => void.");
  }
  if (typeof allowAnonymous !== "boolean") throw new TypeError("sessionAuth: `allowAnonymous` must be a boolean.");

  return {
    store,
    name: name!,
    names,
    chunked,
    signing,
    secrets,
    algorithm: algorithm ?? "sha1",
    timeout,
    rooms: resolveRooms(rooms),
    identify,
    allowAnonymous,
    authorize,
    onError,
    origins: options.origins,
    revalidate: revalidate === false ? null : revalidate,
    // DESIGN "Reconnect storms": every store shares by default; ends this node knows of win over a shared
    // read, and a new socket joins what its siblings here already trust until the same re-read or end.
    sharedReadMaxAge: sharedReadMaxAge === false ? null : (sharedReadMaxAge ?? DEFAULT_SHARED_READ_MAX_AGE_MS),
    endEvent: endEvent === false ? null : endEvent,
    onSessionEnd,
  };
}

// The store's declared cookie (issue 19), checked: a store bug is a TypeError at construction.
function storeCookie(store: SessionStore<never> | SessionStore<object>): StoreCookie | undefined {
  const cookie = (store as SessionStore<object>).cookie;
  if (cookie === undefined) return undefined;
  const where = `store "${store.name}" declares a \`cookie\``;
  if (typeof cookie !== "object" || cookie === null)
    throw new TypeError(`sessionAuth: ${where} that is not an object.`);
  if (!Array.isArray(cookie.names) || cookie.names.length === 0) {
    throw new TypeError(`sessionAuth: ${where} without \`names\` (a non-empty array of cookie names).`);
  }
  if (!SIGNING_SCHEMES.includes(cookie.signing)) {
    throw new TypeError(`sessionAuth: ${where} with an unknown \`signing\` ${JSON.stringify(cookie.signing)}.`);
  }
  if (cookie.chunked !== undefined && typeof cookie.chunked !== "boolean") {
    throw new TypeError(`sessionAuth: ${where} whose \`chunked\` is not a boolean.`);
  }
  return cookie;
}

function isDuration(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 && value <= MAX_TIMEOUT_MS;
}
