/**
 * The CLI's view of the outside world: output streams, stdin, environment,
 * Ctrl-C. Tests pass their own; `defaultIo()` wires the process.
 */

export interface CliWritable {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
  columns?: number;
  once?(event: "drain", listener: () => void): unknown;
}

export interface CliIo {
  stdout: CliWritable;
  stderr: CliWritable;
  /** Bytes (or text) read by `eddy produce`. */
  stdin: AsyncIterable<Uint8Array | string>;
  /** Environment (EDDY_URL); default process.env. */
  env?: Record<string, string | undefined>;
  /** Aborted on Ctrl-C; long-running commands stop cleanly when it fires. */
  signal?: AbortSignal;
}

export interface Ctx {
  stdout: CliWritable;
  stderr: CliWritable;
  stdin: AsyncIterable<Uint8Array | string>;
  env: Record<string, string | undefined>;
  signal: AbortSignal;
  /** Write text to stdout, waiting for "drain" when the stream reports backpressure. */
  out(text: string): Promise<void>;
  /** Write a line to stderr. */
  err(text: string): void;
}

export function makeCtx(io: CliIo, signal: AbortSignal): Ctx {
  const { stdout, stderr } = io;
  return {
    stdout,
    stderr,
    stdin: io.stdin,
    env: io.env ?? process.env,
    signal,
    async out(text: string) {
      const ok = stdout.write(text);
      if (ok === false && stdout.once) {
        await new Promise<void>((resolve) => stdout.once?.("drain", resolve));
      }
    },
    err(text: string) {
      stderr.write(text.endsWith("\n") ? text : `${text}\n`);
    },
  };
}

export function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
}

export { sleep } from "../util/sleep.ts";
