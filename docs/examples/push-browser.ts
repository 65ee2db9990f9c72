import type { Socket } from "socket.io-client";

export function listen(socket: Socket, show: (data: unknown) => void) {
  // #region browser
  socket.on("order:shipped", (data) => show(data)); // fire-and-forget
  socket.on("confirm", (data, ack: (answer: string) => void) => {
    show(data);
    ack("seen"); // a push with `ack` waits for this callback
  });
  // #endregion browser
}
