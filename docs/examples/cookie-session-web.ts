// #region web
import express from "express";
import cookieSession from "cookie-session";

const keys = (process.env.SESSION_KEYS ?? "dev only: set SESSION_KEYS").split(","); // newest first

const app = express();
app.use(cookieSession({ name: "session", keys, maxAge: 24 * 60 * 60 * 1000, sameSite: "lax" }));
app.post("/login", (req, res) => {
  req.session.user = { id: 42 }; // however your app logs people in
  res.sendStatus(204);
});
// #endregion web

// cookie-session's req.session, typed through express-session's SessionData (which @types/cookie-session reuses).
declare module "express-session" {
  interface SessionData {
    user: { id: number | string };
  }
}

export { app, keys };
