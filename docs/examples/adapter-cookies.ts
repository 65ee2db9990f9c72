import { signSessionCookie } from "socket.io-session-auth/testing";

export function cookies(sessionId: string, secret: string, keys: string[], base64Json: string) {
  // #region sign
  return [
    signSessionCookie({ value: sessionId, secret }), // express-session: connect.sid=s%3A<id>.<mac>
    signSessionCookie({ value: sessionId, secret, signing: "fastify", name: "sessionId" }), // @fastify/session
    signSessionCookie({ value: base64Json, secret: keys, signing: "keygrip", name: "session" }), // cookie-session: session=…; session.sig=…
  ];
  // #endregion sign
}
