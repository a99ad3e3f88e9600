/** Settings: small key/value pairs (cluster id, node id, format markers). */
import { eq, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { settings } from "./schema.ts";

export interface SettingOps {
  get(key: string): string | null;
  set(key: string, value: string): void;
}

export function createSettingOps(db: Db): SettingOps {
  const select = db
    .select({ value: settings.value })
    .from(settings)
    .where(eq(settings.key, sql.placeholder("key")))
    .prepare();
  const upsert = db
    .insert(settings)
    .values({ key: sql.placeholder("key"), value: sql.placeholder("value") })
    .onConflictDoUpdate({ target: settings.key, set: { value: sql`excluded.value` } })
    .prepare();
  return {
    get: (key) => select.get({ key })?.value ?? null,
    set: (key, value) => {
      upsert.run({ key, value });
    },
  };
}
