/** The start-up banner: version, data directory, each listener's real address, how to open them. */
import { isLoopbackHost, parseHostPort } from "./listen.ts";

export interface BannerInfo {
  version: string;
  dataDir: string;
  configFile: string | null;
  nodeId: number;
  /** Listener name -> actual bound "host:port" (after port 0 was resolved). */
  listeners: Record<string, string>;
  startupMs: number;
}

export function formatBanner(info: BannerInfo): string {
  const lines = [`Eddy ${info.version} — node ${info.nodeId}, ready in ${Math.round(info.startupMs)} ms`];
  lines.push(`  data dir   ${info.dataDir}`);
  lines.push(`  config     ${info.configFile ?? "(built-in defaults; --config FILE to change)"}`);
  const names = Object.keys(info.listeners);
  if (names.length === 0) lines.push("  listeners  none (all disabled)");
  for (const name of names) {
    const addr = info.listeners[name]!;
    const url = name === "http" ? `http://${addr}` : addr;
    lines.push(`  ${name.padEnd(10)} ${url}`);
  }
  const allLocal = names.every((n) => isLoopbackHost(parseHostPort(info.listeners[n]!)?.host ?? ""));
  if (names.length > 0 && allLocal) {
    lines.push(
      "  Listeners are bound to loopback: only this machine can connect. To open them to the network,",
      "  bind another address (e.g. --http-listen 0.0.0.0:8080) and set auth.allow_anonymous = true",
      "  (or --allow-anonymous) until authentication is configured.",
    );
  } else if (names.length > 0) {
    lines.push(
      "  Warning: listeners are open to the network without authentication (auth.allow_anonymous = true).",
    );
  }
  if (info.listeners.http) lines.push(`  Try: eddy topics --list --url http://${info.listeners.http}`);
  if (info.listeners.kafka) lines.push(`  Try: kcat -b ${info.listeners.kafka} -L`);
  return `${lines.join("\n")}\n`;
}
