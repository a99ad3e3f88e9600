/**
 * The `[auth]` section's value types: users and API tokens (see
 * src/util/credentials.ts for the hash formats). Part of the one schema in
 * schema.ts.
 *
 *   [auth.users.alice]
 *   password_hash = "$argon2id$v=19$m=65536,t=2,p=1$..."   # eddy passwd
 *   [auth.users.bob]
 *   password = "plain text"          # works, but prefer password_hash
 *   [auth.tokens]
 *   ci = "sha256:9f86d08..."         # eddy passwd --token
 *
 * From the environment or a flag the whole table is one JSON value:
 * EDDY_AUTH_USERS='{"alice":{"password_hash":"$argon2id$..."}}'.
 */
import { z } from "zod";
import { isPasswordHash, isTokenHash } from "../util/credentials.ts";

/** A JSON object given as a string (environment, flags) becomes that object. */
const jsonTable = (v: unknown): unknown => {
  if (typeof v !== "string" || !v.trim().startsWith("{")) return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
};

const userName = z
  .string()
  .min(1, { error: "expected a user name" })
  .refine((s) => !s.includes(":"), { error: "a user name cannot contain ':' (Basic auth splits on it)" });

const userCredential = z
  .strictObject({
    password: z.string({ error: "expected the password as a string" }).min(1).optional(),
    password_hash: z
      .string({ error: "expected a password hash as a string" })
      .refine(isPasswordHash, {
        error: "expected an argon2 or bcrypt hash ($argon2id$..., $2b$...): make one with `eddy passwd`",
      })
      .optional(),
  })
  .refine((u) => (u.password === undefined) !== (u.password_hash === undefined), {
    error: "give exactly one of password_hash (preferred; `eddy passwd` makes one) or password",
  });

export const authUsers = z.preprocess(
  jsonTable,
  z.record(userName, userCredential, {
    error: (iss) =>
      iss.code === "invalid_key"
        ? "a user name cannot be empty or contain ':' (Basic auth splits on it)"
        : 'expected a table of users: [auth.users.NAME] password_hash = "..."',
  }),
);

export const authTokens = z.preprocess(
  jsonTable,
  z.record(
    z.string().min(1, { error: "expected a token name" }),
    z.string().refine(isTokenHash, {
      error: 'expected "sha256:<64 hex digits>", the hash of the token: make one with `eddy passwd --token`',
    }),
    { error: 'expected a table of tokens: NAME = "sha256:..."' },
  ),
);
