import { randomUUID } from "node:crypto";
import express from "express";
import cookieSession from "cookie-session";

/** The web app's side of docs/examples/cookie-revocation.ts: `revoke` reaches the socket servers. */
export function revocableWebApp(keys: string[], revoke: (sid: string) => void) {
  const app = express();
  app.use(cookieSession({ name: "session", keys }));
  // #region web
  app.post("/login", (req, res) => {
    req.session.user = { id: 45 }; // however your app logs people in
    req.session.sid = randomUUID(); // names this login, so that it can be revoked
    req.session.issuedAt = Date.now(); // bounds how long a copy of the cookie is worth anything
    res.sendStatus(204);
  });
  app.post("/logout", (req, res) => {
    if (typeof req.session.sid === "string") revoke(req.session.sid); // or publish it to the socket servers
    Object.assign(req, { session: null }); // cookie-session: a null session clears the cookie
    res.sendStatus(204);
  });
  // #endregion web
  return app;
}

declare module "express-session" {
  interface SessionData {
    sid: string;
    issuedAt: number;
  }
}
