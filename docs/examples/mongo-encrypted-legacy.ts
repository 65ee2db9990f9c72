import { MongoClient } from "mongodb";

const client = new MongoClient(process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017/app");

// #region mongo-encrypted-legacy
import MongoStore, { createKrupteinAdapter } from "connect-mongo";
import { mongoStore } from "socket.io-session-auth/mongo";

const cryptoOptions = { secret: process.env.SESSION_CRYPTO_SECRET ?? "dev only" };

// Web side, as it is: connect-mongo's legacy `crypto` option (kruptein).
const webStore = MongoStore.create({ client, crypto: cryptoOptions });

// Realtime side: the adapter connect-mongo builds from `crypto`, from the same options.
const store = mongoStore({ db: client.db(), cryptoAdapter: createKrupteinAdapter(cryptoOptions) });
// #endregion mongo-encrypted-legacy

export { client, store, webStore };
