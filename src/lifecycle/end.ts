import type { Socket } from "socket.io";
import type { SessionAuthError } from "../errors.js";
import { causeOf, describeFailure } from "../internal/describe.js";
import { afterWritten } from "../internal/socketio.js";
import { log } from "../log.js";
import { publishSessionEnd } from "../observe.js";

// How long the end event may take to leave before the socket is disconnected anyway.
const END_FLUSH_TIMEOUT_MS = 2_000;

/** Ending one socket the lifecycle's way: the end event, a server-side disconnect, `onSessionEnd`. */
export interface Ender {
  /** Ends `socket` for `reason` (once: a second call does nothing). */
  end(socket: Socket, reason: SessionAuthError): void;
  /** Why `socket` was ended, or undefined when it was not. */
  endedWith(socket: Socket): SessionAuthError | undefined;
}

export interface EnderOptions {
  /** The event sent with `{ code }` before the disconnect, or null for none. */
  endEvent: string | null;
  onSessionEnd: ((error: SessionAuthError, socket: Socket) => void) | undefined;
  /** Called first, as the socket is ended: the sessions registry lets go of it. */
  release(socket: Socket): void;
}

export function createEnder({ endEvent, onSessionEnd, release }: EnderOptions): Ender {
  const endedWith = new WeakMap<Socket, SessionAuthError>();

  function end(socket: Socket, reason: SessionAuthError): void {
    if (endedWith.has(socket)) return;
    endedWith.set(socket, reason);
    release(socket);
    const done = (): void => {
      log("ended a socket (%s): %s%s", reason.code, reason.message, causeOf(reason));
      publishSessionEnd(reason);
      if (onSessionEnd === undefined) return;
      try {
        onSessionEnd(reason, socket);
      } catch (error) {
        log("onSessionEnd threw: %s", describeFailure(error));
      }
    };
    if (!socket.connected) return done();
    // Server-side: socket.io's client does not reconnect by itself; the page decides to log in again.
    if (endEvent === null) {
      socket.disconnect();
      return done();
    }
    // With connectionStateRecovery, socket.emit() goes through the adapter to get an offset, and a
    // cluster adapter (streams) delivers it only after a round trip to Redis: disconnecting at once would
    // overtake the event. Disconnect once the event is written (or after a bounded wait).
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      stopWatching();
      clearTimeout(timer);
      socket.disconnect();
      done();
    };
    const stopWatching = afterWritten(socket, endEvent, finish);
    const timer = setTimeout(finish, END_FLUSH_TIMEOUT_MS);
    timer.unref();
    socket.emit(endEvent, { code: reason.code });
  }

  return { end, endedWith: (socket) => endedWith.get(socket) };
}
