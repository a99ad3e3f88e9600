/**
 * `eddy passwd` — make the credentials for the `[auth]` section of eddy.toml
 * (no broker needed): a salted argon2id password hash for a user, or a new
 * random API token and its SHA-256 hash. Prints a TOML snippet to paste.
 */
import { generateToken, hashPassword, hashToken } from "../../util/credentials.ts";
import { HELP_OPTION, parseCommandArgs } from "../args.ts";
import type { Ctx } from "../io.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: eddy passwd --user NAME            (reads the password from stdin)
       eddy passwd --token [--name NAME]

Make credentials for eddy.toml's [auth] section; prints a snippet to paste.
No broker is needed.

  --user NAME    hash a password for this user: argon2id (salted), or bcrypt
                 with --bcrypt. The password is the first line of stdin.
  --bcrypt       use bcrypt instead of argon2id
  --token        make a new random API token; prints the token (give it to the
                 client: --token or EDDY_TOKEN) and the hash to store
  --name NAME    the token's name in [auth.tokens] (default "default")

Users sign in with HTTP Basic auth (console, API, CLI --user/--password) and
over Kafka SASL/PLAIN. Tokens are for HTTP Bearer auth (CLI --token).

Examples:
  printf '%s' 'correct horse' | eddy passwd --user alice
  eddy passwd --token --name ci
`;

export const passwdCommand: Command = {
  name: "passwd",
  summary: "hash a user's password or make an API token for [auth] in eddy.toml",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("passwd", argv, {
      ...HELP_OPTION,
      user: { type: "string" },
      bcrypt: { type: "boolean" },
      token: { type: "boolean" },
      name: { type: "string" },
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
    const password = await readPassword(ctx);
    if (password === "") throw args.usage("the password is empty: pipe it on stdin");
    const hash = await hashPassword(password, { algorithm: args.flag("bcrypt") ? "bcrypt" : "argon2id" });
    const key = /^[A-Za-z0-9_-]+$/.test(user) ? user : JSON.stringify(user);
    await ctx.out(`[auth.users.${key}]\npassword_hash = "${hash}"\n`);
    return 0;
  },
};

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
