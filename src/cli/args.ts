/**
 * Argument parsing for the CLI: a thin layer over node:util parseArgs (works
 * unchanged inside `bun build --compile`, no dependency).
 *
 * - Unknown options, missing values and bad numbers become a UsageError
 *   (exit code 2) that names the command's --help.
 * - `--opt -5` (a negative number as a value) is accepted, as Kafka's tools do.
 * - `--property k=v` style lists are parsed into maps and checked against the
 *   keys a command knows.
 */
import { parseArgs } from "node:util";

export class UsageError extends Error {
  readonly command: string;
  constructor(command: string, message: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
}
export type OptionSpecs = Record<string, OptionSpec>;

/** Options every client command understands. */
export const CLIENT_OPTIONS = {
  url: { type: "string" },
  "bootstrap-server": { type: "string" },
  "command-config": { type: "string" },
  "data-dir": { type: "string" },
  token: { type: "string" },
  user: { type: "string" },
  password: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

export const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const satisfies OptionSpecs;

export class Args {
  readonly command: string;
  readonly positionals: string[];
  private readonly values: Record<string, string | boolean | Array<string | boolean> | undefined>;

  constructor(
    command: string,
    values: Record<string, string | boolean | Array<string | boolean> | undefined>,
    positionals: string[],
  ) {
    this.command = command;
    this.values = values;
    this.positionals = positionals;
  }

  usage(message: string): UsageError {
    return new UsageError(this.command, message);
  }

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    if (Array.isArray(v)) return v.length > 0 ? String(v[v.length - 1]) : undefined;
    return typeof v === "string" ? v : undefined;
  }

  required(name: string, context?: string): string {
    const v = this.string(name);
    if (v === undefined || v === "") {
      throw this.usage(`--${name} is required${context ? ` ${context}` : ""}`);
    }
    return v;
  }

  /** All values of a repeatable option; each may also hold a comma-separated list when `splitCommas`. */
  list(name: string, splitCommas = false): string[] {
    const v = this.values[name];
    const raw = v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
    if (!splitCommas) return raw;
    return raw.flatMap((s) => s.split(",")).filter((s) => s.length > 0);
  }

  int(name: string, bounds: { min?: number; max?: number } = {}): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    return parseIntArg(this.command, `--${name}`, v, bounds);
  }

  requiredInt(name: string, bounds: { min?: number; max?: number } = {}, context?: string): number {
    return parseIntArg(this.command, `--${name}`, this.required(name, context), bounds);
  }

  /** Exactly one of the given boolean flags (the command's action); throws a usage error otherwise. */
  action<const T extends string>(names: readonly T[]): T {
    const set = names.filter((n) => this.flag(n));
    if (set.length === 1) return set[0]!;
    const all = names.map((n) => `--${n}`).join(", ");
    throw this.usage(set.length === 0 ? `give one of ${all}` : `give only one of ${all}`);
  }
}

export function parseIntArg(
  command: string,
  what: string,
  text: string,
  bounds: { min?: number; max?: number } = {},
): number {
  const s = text.trim();
  const n = /^-?\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new UsageError(command, `${what} expects a whole number, got "${text}"`);
  if (bounds.min !== undefined && n < bounds.min) {
    throw new UsageError(command, `${what} must be at least ${bounds.min}, got ${n}`);
  }
  if (bounds.max !== undefined && n > bounds.max) {
    throw new UsageError(command, `${what} must be at most ${bounds.max}, got ${n}`);
  }
  return n;
}

/** Parse argv for one command. Positionals are allowed only when `positionals` is true. */
export function parseCommandArgs(
  command: string,
  argv: readonly string[],
  options: OptionSpecs,
  positionals = false,
): Args {
  const args = joinNegativeValues(argv, options);
  try {
    const parsed = parseArgs({ args, options, allowPositionals: positionals, strict: true });
    return new Args(
      command,
      parsed.values as Record<string, string | boolean | string[]>,
      parsed.positionals,
    );
  } catch (err) {
    const message = err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
    throw new UsageError(command, message.replace(/\. To specify a positional.*$/, ""));
  }
}

/** Turn `--name -5` into `--name=-5` for string options so negative numbers work as values. */
function joinNegativeValues(argv: readonly string[], options: OptionSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : null;
    if (name && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Parse `k=v` items (e.g. --property, --config) into a map; keys must be in `known` when given. */
export function parseKeyValues(
  command: string,
  what: string,
  items: readonly string[],
  known?: readonly string[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    const i = item.indexOf("=");
    if (i <= 0) throw new UsageError(command, `${what} expects key=value, got "${item}"`);
    const key = item.slice(0, i).trim();
    if (known && !known.includes(key)) {
      throw new UsageError(command, `unknown ${what} "${key}"; known: ${known.join(", ")}`);
    }
    out.set(key, item.slice(i + 1));
  }
  return out;
}

/** "true"/"false" property values. */
export function boolProperty(command: string, props: Map<string, string>, key: string): boolean {
  const v = props.get(key);
  if (v === undefined) return false;
  const s = v.trim().toLowerCase();
  if (s === "true" || s === "1" || s === "yes") return true;
  if (s === "false" || s === "0" || s === "no") return false;
  throw new UsageError(command, `--property ${key} expects true or false, got "${v}"`);
}

/** Unescape \t, \n, \\ in separators typed on a shell. */
export function unescapeSeparator(s: string): string {
  return s.replace(/\\([tn\\])/g, (_, c: string) => (c === "t" ? "\t" : c === "n" ? "\n" : "\\"));
}
