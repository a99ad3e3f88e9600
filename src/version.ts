/**
 * Eddy's version, taken from package.json. `bun build --compile` inlines the
 * JSON import, so the binary carries the version it was built from.
 */
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
