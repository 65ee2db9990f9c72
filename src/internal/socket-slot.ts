import type { Socket } from "socket.io";

/**
 * A value this library keeps on a socket, in a symbol property made per call (so two `sessionAuth` on one
 * namespace never share a slot): cheaper in heap and GC work than a WeakMap or WeakSet entry per socket
 * (issue 22 item 3), invisible to the app (not in `socket.data`) and never serialized.
 */
export interface SocketSlot<T> {
  get(socket: Socket): T | undefined;
  set(socket: Socket, value: T | undefined): void;
}

export function socketSlot<T>(name: string): SocketSlot<T> {
  const key = Symbol(`socket.io-session-auth ${name}`);
  type Slotted = Record<symbol, T | undefined>;
  return {
    get: (socket) => (socket as unknown as Slotted)[key],
    set: (socket, value) => void ((socket as unknown as Slotted)[key] = value),
  };
}
