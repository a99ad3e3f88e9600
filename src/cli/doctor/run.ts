/**
 * `eddy doctor`'s checks in order: config, then (with the loaded config)
 * listeners, data directory, disk space, fsync latency and cluster peers. Each check says
 * what it found and, when something is wrong, what to do.
 */
import path from "node:path";
import { ConfigError } from "../../config/errors.ts";
import type { Setting } from "../../config/flags.ts";
import { parseHostPort } from "../../config/listen.ts";
import { loadConfig } from "../../config/load.ts";
import { IMPLEMENTED_LISTENERS, type EddyConfig } from "../../config/schema.ts";
import { checkPeers } from "./peers.ts";
import { checkListener, type ListenerPlan, Transport } from "./ports.ts";
import { checkDataDir, checkDisk, checkFsync } from "./storage.ts";
import { type CheckResult, CheckStatus, DEFAULT_THRESHOLDS, type DoctorThresholds } from "./types.ts";

export interface DoctorOptions {
  configFile: string | null;
  flags: Setting[];
  env: Record<string, string | undefined>;
  thresholds?: Partial<DoctorThresholds>;
}

export interface DoctorReport {
  configFile: string | null;
  results: CheckResult[];
  failed: number;
  warnings: number;
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const t: DoctorThresholds = { ...DEFAULT_THRESHOLDS, ...opts.thresholds };
  const results: CheckResult[] = [];
  let config: EddyConfig | null = null;
  let configFile = opts.configFile ?? opts.env.EDDY_CONFIG ?? null;
  try {
    const loaded = loadConfig({ configFile: opts.configFile, env: opts.env, flags: opts.flags });
    config = loaded.config;
    configFile = loaded.configFile;
    results.push({
      name: "config",
      status: CheckStatus.OK,
      summary: configFile
        ? `${configFile} is valid`
        : "no config file: built-in defaults (and EDDY_… environment)",
    });
    for (const w of loaded.warnings) {
      results.push({
        name: "config",
        status: CheckStatus.WARN,
        summary: w,
        fix: "remove or correct the setting",
      });
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) {
      results.push({
        name: "config",
        status: CheckStatus.FAIL,
        summary: issue,
        fix: "correct the setting (see config/eddy.toml for every key)",
      });
    }
    results.push({
      name: "other checks",
      status: CheckStatus.SKIP,
      summary: "skipped: they need a valid configuration",
    });
  }

  if (config) {
    for (const plan of listenerPlans(config)) {
      results.push(await checkListener(plan, { probeTimeoutMs: t.probeTimeoutMs }));
    }
    const dataDir = path.resolve(config.data_dir);
    const dir = checkDataDir(dataDir);
    results.push(dir.result);
    if (dir.measureIn) results.push(checkDisk(dir.measureIn, config.broker.min_free_disk_bytes, t));
    if (dir.measureIn && dir.writable) results.push(checkFsync(dir.measureIn, t));
    else
      results.push({
        name: "fsync",
        status: CheckStatus.SKIP,
        summary: "skipped: no writable directory to measure in",
      });
    results.push(...(await checkPeers(config, { timeoutMs: t.probeTimeoutMs })));
  }

  return {
    configFile,
    results,
    failed: results.filter((r) => r.status === CheckStatus.FAIL).length,
    warnings: results.filter((r) => r.status === CheckStatus.WARN).length,
  };
}

/**
 * Every address `eddy serve` would bind with this config, each over its own
 * transport: the configured listeners, MQTT over TLS when its certificate is
 * set, and the peer listener (default 127.0.0.1:9093) once cluster.peers is set.
 */
export function listenerPlans(config: EddyConfig): ListenerPlan[] {
  const plans: ListenerPlan[] = [];
  const add = (
    name: string,
    value: string | null | undefined,
    key: string,
    extra: Partial<ListenerPlan> = {},
  ) => {
    if (!value) return;
    const hp = parseHostPort(value);
    if (!hp) return; // the schema already rejected it
    plans.push({ name, hp, transport: Transport.TCP, key, ...extra });
  };
  for (const name of IMPLEMENTED_LISTENERS) {
    const key = `listeners.${name}`;
    if (name === "http") add(name, config.listeners.http, key, { probeHttp: true });
    else if (name === "coap")
      add(name, config.listeners.coap, key, { transport: Transport.UDP, probeCoap: true });
    else if (name === "peer") {
      if (config.cluster.peers.length > 0 && config.listeners.peer !== null)
        add(name, config.listeners.peer ?? "127.0.0.1:9093", key);
    } else add(name, config.listeners[name], key);
    if (name === "mqtt" && config.listeners.mqtt && config.mqtt.tls_cert_file && config.mqtt.tls_key_file) {
      add("mqtt_tls", config.mqtt.tls_listen, "mqtt.tls_listen");
    }
  }
  return plans;
}

const LABEL: Record<CheckStatus, string> = { ok: "ok", warn: "WARN", fail: "FAIL", skip: "skip" };

/** The report as text: one line per check, "fix:" lines under problems, a summary. */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.results.map((r) => r.name.length));
  const lines = report.results.flatMap((r) => {
    const head = `  ${LABEL[r.status].padEnd(4)}  ${r.name.padEnd(width)}  ${r.summary}`;
    return r.fix && (r.status === CheckStatus.FAIL || r.status === CheckStatus.WARN)
      ? [head, `        ${" ".repeat(width)}  fix: ${r.fix}`]
      : [head];
  });
  const ok = report.results.filter((r) => r.status === CheckStatus.OK).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const verdict =
    report.failed > 0
      ? `${plural(report.failed, "problem")} to fix before \`eddy serve\` can run well`
      : report.warnings > 0
        ? "eddy serve can run; see the warnings"
        : "everything looks good";
  return (
    `eddy doctor: ${report.configFile ? `config ${report.configFile}` : "no config file"}\n` +
    `${lines.join("\n")}\n` +
    `${plural(report.failed, "failure")}, ${plural(report.warnings, "warning")}, ${ok} ok: ${verdict}.\n`
  );
}
