import { MongoClient } from "mongodb";

const client = new MongoClient(process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017/app");

// #region mongo-encrypted
import MongoStore, { createWebCryptoAdapter } from "connect-mongo";
import { mongoStore } from "socket.io-session-auth/mongo";

// One adapter (or two built with the same options) for both sides.
const sessionCrypto = createWebCryptoAdapter({ secret: process.env.SESSION_CRYPTO_SECRET ?? "dev only" });

// Web side: connect-mongo encrypts the session field.
const webStore = MongoStore.create({ client, cryptoAdapter: sessionCrypto });

// Realtime side: the adapter decrypts, and reads the text as connect-mongo does.
const store = mongoStore({ db: client.db(), cryptoAdapter: sessionCrypto });
// #endregion mongo-encrypted

export { client, store, webStore };
