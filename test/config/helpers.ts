/** Shared helpers for config tests: temporary TOML files and the issues of a ConfigError. */
import { afterEach, expect } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../../src/config/errors.ts";
import { ErrorCode } from "../../src/errors.ts";

/**
 * Call at the top of a test file: returns `toml(text)`, which writes eddy.toml
 * in a fresh temporary directory and returns its path; the directories are
 * removed after each test of that file.
 */
export function useTomlFiles(): (text: string) => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  return (text: string): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-config-"));
    dirs.push(dir);
    const file = path.join(dir, "eddy.toml");
    fs.writeFileSync(file, text);
    return file;
  };
}

/** The issues of the ConfigError that `fn` throws (the test fails if it throws nothing else). */
export function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe(ErrorCode.INVALID_CONFIG);
    return [...(err as ConfigError).issues];
  }
  throw new Error("expected a ConfigError");
}
