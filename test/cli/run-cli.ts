/** Run runCli in-process with captured stdout/stderr and a scripted stdin. */
import { runCli } from "../../src/cli/index.ts";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text given on stdin, as one chunk or as several chunks. */
  stdin?: string | string[];
  /** A custom stdin (wins over `stdin`). */
  stdinStream?: AsyncIterable<Uint8Array | string>;
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
  stderrIsTTY?: boolean;
}

const text = (s: string | Uint8Array) => (typeof s === "string" ? s : new TextDecoder().decode(s));

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  const chunks = typeof opts.stdin === "string" ? [opts.stdin] : (opts.stdin ?? []);
  const encoder = new TextEncoder();
  const stdin =
    opts.stdinStream ??
    (async function* () {
      for (const c of chunks) yield encoder.encode(c);
    })();
  const code = await runCli(argv, {
    stdout: {
      write: (s) => {
        stdout += text(s);
        return true;
      },
    },
    stderr: {
      write: (s) => {
        stderr += text(s);
        return true;
      },
      isTTY: opts.stderrIsTTY ?? false,
    },
    stdin,
    env: opts.env ?? {},
    signal: opts.signal ?? new AbortController().signal,
  });
  return { code, stdout, stderr };
}

/** A URL where nothing listens: bind port 0, note the port, close. */
export async function deadUrl(): Promise<string> {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const url = `http://127.0.0.1:${server.port}`;
  await server.stop(true);
  return url;
}
