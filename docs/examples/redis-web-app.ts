// #region web-app
// web.ts: the Express app. It logs people in and keeps their sessions in Redis through connect-redis.
import express from "express";
import session from "express-session";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";

export async function createWebApp(redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379") {
  const redis = createClient({ url: redisUrl }); // connect-redis 9+ wants node-redis
  redis.on("error", (err) => console.warn("redis (web):", err.message));
  // Not awaited: with Redis down at start the app still starts; node-redis queues commands until it is
  // ready and reconnects by itself.
  redis.connect().catch((err) => console.warn("redis (web):", err.message));

  const app = express();
  app.use(
    session({
      store: new RedisStore({ client: redis }), // keys "sess:<id>", TTL = the cookie's maxAge
      secret: process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET",
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 24 * 3600_000 },
    }),
  );
  app.post("/login", express.json(), (req, res) => {
    req.session.userId = String(req.body.id); // however your app logs people in
    res.sendStatus(204);
  });
  app.post("/logout", (req, res) => req.session.destroy(() => res.sendStatus(204)));
  return { app, redis };
}
// #endregion web-app

declare module "express-session" {
  interface SessionData {
    userId: string;
  }
}
