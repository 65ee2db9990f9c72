import type { MongoClient } from "mongodb";
import { mongoStore } from "socket.io-session-auth/mongo";

export function stores(client: MongoClient) {
  // #region options
  return [
    mongoStore({ db: client.db() }), // connect-mongo's default collection, "sessions", in the URL's database
    mongoStore({ db: client.db("app"), collectionName: "my_sessions" }), // its collectionName option
    mongoStore({ collection: client.db("app").collection("sessions") }), // or the collection itself
  ];
  // #endregion options
}
