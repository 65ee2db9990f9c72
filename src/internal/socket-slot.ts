import type { Socket } from "socket.io";

/**
 * The values this library keeps on a socket live in symbol properties of the socket, each symbol made
 * per `sessionAuth` (so two on one namespace never share one): cheaper in heap and GC work than a
 * WeakMap or WeakSet entry per socket (issue 22 item 3), invisible to the app (not in `socket.data`) and
 * never serialized. `T` names them, `{ [KEY]?: Value }`, each key made with
 * `const KEY: unique symbol = Symbol("socket.io-session-auth key")`.
 *
 * Read and write a slot where it is used, `slotsOf<Slots>(socket)[KEY]`, not through shared get/set
 * functions: V8 keeps what a property access has seen per place in the code, and one accessor shared by
 * every slot sees every key on every shape of socket, which makes each access megamorphic (a lookup in
 * V8's stub cache, of about a hundred instructions, instead of a few; issue 22).
 */
export function slotsOf<T extends object>(socket: Socket): T {
  return socket as unknown as T;
}
