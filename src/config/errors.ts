import { EddyError, ErrorCode } from "../errors.ts";

/** A configuration problem: start-up stops with exit code 2 and prints each issue. */
export class ConfigError extends EddyError {
  readonly issues: readonly string[];

  constructor(issues: string[]) {
    super(ErrorCode.INVALID_CONFIG, `invalid configuration:\n${issues.map((i) => `  - ${i}`).join("\n")}`, {
      issues,
    });
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** Exit code for a configuration error (command-line usage error, as in sysexits' spirit). */
export const CONFIG_ERROR_EXIT_CODE = 2;
