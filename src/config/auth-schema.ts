/**
 * The `[auth]` section's value types: users and API tokens (see
 * src/util/credentials.ts for the hash formats). Part of the one schema in
 * schema.ts.
 *
 *   [auth.users.alice]
 *   password_hash = "$argon2id$v=19$m=65536,t=2,p=1$..."   # eddy passwd
 *   scram_sha_256 = "<salt>:4096:<StoredKey>:<ServerKey>"  # eddy passwd, for SCRAM
 *   scram_sha_512 = "<salt>:4096:<StoredKey>:<ServerKey>"  # (base64 parts)
 *   [auth.users.bob]
 *   password = "plain text"          # works, but prefer password_hash
 *   [auth.tokens]
 *   ci = "sha256:9f86d08..."         # eddy passwd --token
 *
 * SCRAM (Kafka SASL SCRAM-SHA-256/512, MQTT 5 enhanced auth) needs either the
 * plain password or a stored credential (salt, iterations, StoredKey,
 * ServerKey, as Kafka's `kafka-configs --add-config 'SCRAM-SHA-256=[...]'`
 * keeps them): a password hash cannot answer it. A stored credential next to
 * a plain password must match it.
 *
 * From the environment or a flag the whole table is one JSON value:
 * EDDY_AUTH_USERS='{"alice":{"password_hash":"$argon2id$..."}}'.
 */
import { z } from "zod";
import { isPasswordHash, isTokenHash } from "../util/credentials.ts";
import {
  parseScramCredential,
  SCRAM_CONFIG_KEYS,
  SCRAM_MECHANISMS,
  type ScramMechanism,
  scramCredentialMatches,
} from "../util/scram.ts";

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

/** `scram_sha_256` / `scram_sha_512`: a stored SCRAM credential (src/util/scram.ts). */
const scramCredential = (mechanism: ScramMechanism) =>
  z
    .string({
      error: `expected the ${mechanism} credential as a string "<salt>:<iterations>:<StoredKey>:<ServerKey>"`,
    })
    .check((ctx) => {
      const parsed = parseScramCredential(mechanism, ctx.value);
      if (!parsed.ok) ctx.issues.push({ code: "custom", message: parsed.error, input: ctx.value });
    });

const userCredential = z
  .strictObject({
    password: z.string({ error: "expected the password as a string" }).min(1).optional(),
    password_hash: z
      .string({ error: "expected a password hash as a string" })
      .refine(isPasswordHash, {
        error: "expected an argon2 or bcrypt hash ($argon2id$..., $2b$...): make one with `eddy passwd`",
      })
      .optional(),
    /** SCRAM-SHA-256 (Kafka SASL, MQTT 5 enhanced auth) for users with a password_hash. */
    scram_sha_256: scramCredential("SCRAM-SHA-256").optional(),
    scram_sha_512: scramCredential("SCRAM-SHA-512").optional(),
  })
  .refine((u) => (u.password === undefined) !== (u.password_hash === undefined), {
    error:
      "give exactly one of password_hash (preferred; `eddy passwd` makes one) or password; scram_sha_256 and scram_sha_512 go alongside it",
  })
  .check((ctx) => {
    // A stored credential next to a plain password must be that password's (else SCRAM and PLAIN disagree).
    const u = ctx.value;
    if (u.password === undefined) return;
    for (const mechanism of SCRAM_MECHANISMS) {
      const key = SCRAM_CONFIG_KEYS[mechanism];
      const text = u[key];
      if (text === undefined) continue;
      const parsed = parseScramCredential(mechanism, text);
      if (parsed.ok && !scramCredentialMatches(mechanism, parsed.credential, u.password)) {
        ctx.issues.push({
          code: "custom",
          path: [key],
          input: text,
          message: `does not match this user's password: make it again with \`eddy passwd --user NAME\`, or remove it (a plain password needs no ${key})`,
        });
      }
    }
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

/**
 * `[auth.acl]`: MQTT access control, mosquitto's acl_file as TOML
 * (bridges/mqtt/acl.ts enforces it). No rule at all = everything allowed;
 * any rule = deny unless a rule grants.
 *
 *   [[auth.acl.users.alice]]
 *   filter = "sensors/#"
 *   access = "readwrite"          # read | write | readwrite | deny
 *   [[auth.acl.anonymous]]
 *   filter = "public/#"
 *   access = "read"
 *   [[auth.acl.patterns]]         # %u = user name, %c = client id
 *   filter = "devices/%c/#"
 *   access = "readwrite"
 *
 * From the environment or a flag the whole table is one JSON value:
 * EDDY_AUTH_ACL='{"patterns":[{"filter":"devices/%c/#","access":"readwrite"}]}'.
 */
const ACL_ACCESS = ["read", "write", "readwrite", "deny"] as const;

/** An MQTT topic filter: non-empty levels rules of [MQTT-4.7.1-2/3], no NUL. */
export function isTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  return levels.every((level, i) => {
    if (level.includes("#")) return level === "#" && i === levels.length - 1;
    return !level.includes("+") || level === "+";
  });
}

const aclRule = (substitutions: boolean) =>
  z.strictObject({
    filter: z
      .string({ error: 'expected an MQTT topic filter such as "sensors/#"' })
      .refine(isTopicFilter, {
        error: "expected an MQTT topic filter: + and # fill a whole level, # only as the last level",
      })
      .refine((f) => substitutions || !/%[uc]/.test(f), {
        error: "%u and %c are substituted only in auth.acl.patterns: move this rule there",
      }),
    access: z.enum(ACL_ACCESS, { error: 'expected access = "read", "write", "readwrite" or "deny"' }),
  });

const aclRules = (substitutions: boolean) =>
  z.array(aclRule(substitutions), {
    error: "expected a list of rules ([[...]] in TOML) with filter and access",
  });

export const authAcl = z.preprocess(
  jsonTable,
  z.strictObject(
    {
      /** Rules per user of [auth.users]. */
      users: z
        .record(userName, aclRules(false), {
          error: "expected a table of users: [[auth.acl.users.NAME]] filter = ..., access = ...",
        })
        .default({}),
      /** Rules for clients without a user (allow_anonymous, or no [auth.users] at all). */
      anonymous: aclRules(false).default([]),
      /** Rules for every client, %u = user name, %c = client id. */
      patterns: aclRules(true).default([]),
    },
    { error: "expected a table: [auth.acl] with users, anonymous and patterns" },
  ),
);

export type AuthAclConfig = z.infer<typeof authAcl>;
