/**
 * `eddy passwd` — make the credentials for the `[auth]` section of eddy.toml
 * (no broker needed): a salted argon2id password hash for a user, with the
 * user's stored SCRAM-SHA-256/512 credentials (salt, iterations, StoredKey,
 * ServerKey: what Kafka's `kafka-configs --add-config 'SCRAM-SHA-256=[...]'`
 * stores), or a new random API token and its SHA-256 hash. Prints a TOML
 * snippet to paste.
 */
import { generateToken, hashPassword, hashToken } from "../../util/credentials.ts";
import {
  deriveScramCredential,
  formatScramCredential,
  isScramMechanism,
  SCRAM_CONFIG_KEYS,
  SCRAM_ITERATIONS,
  SCRAM_MAX_ITERATIONS,
  SCRAM_MECHANISMS,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanism,
} from "../../util/scram.ts";
import { HELP_OPTION, parseCommandArgs } from "../args.ts";
import type { Ctx } from "../io.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: eddy passwd --user NAME [--scram LIST] [--iterations N]   (password on stdin)
       eddy passwd --token [--name NAME]

Make credentials for eddy.toml's [auth] section; prints a snippet to paste.
No broker is needed.

  --user NAME       hash a password for this user: argon2id (salted), or bcrypt
                    with --bcrypt, plus its SCRAM credentials. The password is
                    the first line of stdin.
  --bcrypt          use bcrypt instead of argon2id
  --scram LIST      SCRAM credentials to add: SCRAM-SHA-256, SCRAM-SHA-512
                    (comma-separated; default both), or "none"
  --iterations N    PBKDF2 iterations of the SCRAM credentials (default
                    ${SCRAM_ITERATIONS}, RFC 7677's minimum and Kafka's default; more
                    costs every client more at each connect)
  --token           make a new random API token; prints the token (give it to
                    the client: --token or EDDY_TOKEN) and the hash to store
  --name NAME       the token's name in [auth.tokens] (default "default")

Output of --user (paste it into eddy.toml; the password itself is not in it):

  [auth.users.alice]
  password_hash = "$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>"
  # SCRAM (Kafka SASL, MQTT 5 AUTH): "<salt>:<iterations>:<StoredKey>:<ServerKey>"
  scram_sha_256 = "<salt>:${SCRAM_ITERATIONS}:<StoredKey>:<ServerKey>"
  scram_sha_512 = "<salt>:${SCRAM_ITERATIONS}:<StoredKey>:<ServerKey>"

Users sign in with HTTP Basic auth (console, API, CLI --user/--password), over
Kafka SASL/PLAIN and MQTT CONNECT with password_hash, and over Kafka
SASL/SCRAM-SHA-256/512 and MQTT 5 enhanced authentication (SCRAM) with
scram_sha_256 / scram_sha_512: a password hash cannot answer SCRAM, so a user
without them cannot use SCRAM. Tokens are for HTTP Bearer auth (CLI --token).

Examples:
  printf '%s' 'correct horse' | eddy passwd --user alice
  printf '%s' 'correct horse' | eddy passwd --user alice --scram SCRAM-SHA-256 --iterations 8192
  eddy passwd --token --name ci
`;

export const passwdCommand: Command = {
  name: "passwd",
  summary: "hash a user's password (and its SCRAM credentials) or make an API token for [auth]",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("passwd", argv, {
      ...HELP_OPTION,
      user: { type: "string" },
      bcrypt: { type: "boolean" },
      token: { type: "boolean" },
      name: { type: "string" },
      scram: { type: "string" },
      iterations: { type: "string" },
    });
    if (args.flag("token")) {
      if (args.has("user")) throw args.usage("give either --user or --token, not both");
      const name = args.string("name") ?? "default";
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw args.usage("--name: use letters, digits, '_', '.', '-'");
      const token = generateToken();
      await ctx.out(
        `# API token "${name}": shown only now. Give it to the client (--token or EDDY_TOKEN):\n` +
          `# ${token}\n` +
          "# Add to eddy.toml (only the hash is stored):\n" +
          `[auth.tokens]\n${name} = "${hashToken(token)}"\n`,
      );
      return 0;
    }
    const user = args.required("user", "(or give --token)");
    if (user.includes(":")) throw args.usage("--user: a user name cannot contain ':'");
    const mechanisms = scramMechanisms(args.string("scram"));
    if (mechanisms === null) {
      throw args.usage(`--scram: give ${SCRAM_MECHANISMS.join(", ")} (comma-separated) or "none"`);
    }
    const iterations =
      args.int("iterations", { min: SCRAM_MIN_ITERATIONS, max: SCRAM_MAX_ITERATIONS }) ?? SCRAM_ITERATIONS;
    const password = await readPassword(ctx);
    if (password === "") throw args.usage("the password is empty: pipe it on stdin");
    const hash = await hashPassword(password, { algorithm: args.flag("bcrypt") ? "bcrypt" : "argon2id" });
    const key = /^[A-Za-z0-9_-]+$/.test(user) ? user : JSON.stringify(user);
    let text = `[auth.users.${key}]\npassword_hash = "${hash}"\n`;
    if (mechanisms.length > 0) {
      text += '# SCRAM (Kafka SASL, MQTT 5 AUTH): "<salt>:<iterations>:<StoredKey>:<ServerKey>"\n';
      for (const m of mechanisms) {
        const credential = formatScramCredential(deriveScramCredential(m, password, { iterations }));
        text += `${SCRAM_CONFIG_KEYS[m]} = "${credential}"\n`;
      }
    }
    await ctx.out(text);
    return 0;
  },
};

/** --scram: mechanism names (any case, comma-separated), "none" = [], null when invalid. */
function scramMechanisms(text: string | undefined): ScramMechanism[] | null {
  if (text === undefined) return [...SCRAM_MECHANISMS];
  const names = text
    .split(",")
    .map((n) => n.trim().toUpperCase())
    .filter((n) => n !== "");
  if (names.length === 1 && names[0] === "NONE") return [];
  if (names.length === 0 || !names.every(isScramMechanism)) return null;
  return SCRAM_MECHANISMS.filter((m) => names.includes(m));
}

/** The first line of stdin. */
async function readPassword(ctx: Ctx): Promise<string> {
  if (process.stdin.isTTY) {
    ctx.err("Password (typed characters are shown; end with Enter):");
  }
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of ctx.stdin) {
    text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0] ?? "";
}
