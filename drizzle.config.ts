/**
 * drizzle-kit configuration for the metadata database (src/metadata).
 * `bun run db:generate` diffs src/metadata/schema.ts against the last
 * snapshot, writes SQL into src/metadata/migrations/, then embeds it into
 * src/metadata/generated/migrations.ts for the compiled binary.
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/metadata/schema.ts",
  out: "./src/metadata/migrations",
  breakpoints: true,
});
