// The web side, as an app using connect-mongo already has it. Nothing here changes for socket.io.
// #region mongo-web
import MongoStore from "connect-mongo";
import express from "express";
import session from "express-session";
import { MongoClient } from "mongodb";

const client = new MongoClient(process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017/app");

const app = express();
app.use(
  session({
    secret: process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET",
    resave: false,
    saveUninitialized: false,
    // Documents { _id: sid, session, expires } in the "sessions" collection of the URL's database.
    // stringify: true (the default) stores the session as a JSON string, false as a sub-document:
    // the realtime side reads either without being told.
    store: MongoStore.create({ client, collectionName: "sessions" }),
  }),
);
// #endregion mongo-web

app.post("/login", (req, res) => {
  req.session.userId = "42"; // however your app logs people in
  res.sendStatus(204);
});

declare module "express-session" {
  interface SessionData {
    userId: string;
  }
}

export { app, client };
