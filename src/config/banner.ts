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
  /** Listeners that require credentials (load.ts listenerHasAuth). */
  authenticated?: readonly string[];
  /** Listeners that speak TLS (the http URL becomes https://). */
  tls?: readonly string[];
}

export function formatBanner(info: BannerInfo): string {
  const lines = [`Eddy ${info.version} — node ${info.nodeId}, ready in ${Math.round(info.startupMs)} ms`];
  lines.push(`  data dir   ${info.dataDir}`);
  lines.push(`  config     ${info.configFile ?? "(built-in defaults; --config FILE to change)"}`);
  const names = Object.keys(info.listeners);
  if (names.length === 0) lines.push("  listeners  none (all disabled)");
  for (const name of names) {
    const addr = info.listeners[name]!;
    const url = name === "http" ? `${info.tls?.includes("http") ? "https" : "http"}://${addr}` : addr;
    const notes = [
      info.authenticated?.includes(name) ? "credentials required" : "",
      info.tls?.includes(name) ? "TLS" : "",
    ].filter((n) => n !== "");
    if (notes.length > 0) {
      lines.push(`  ${name.padEnd(10)} ${url}  (${notes.join(", ")})`);
      continue;
    }
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
    const open = names.filter(
      (n) =>
        !info.authenticated?.includes(n) && !isLoopbackHost(parseHostPort(info.listeners[n]!)?.host ?? ""),
    );
    if (open.length > 0) {
      lines.push(
        `  Warning: ${open.join(", ")} ${open.length === 1 ? "is" : "are"} open to the network without authentication (auth.allow_anonymous = true).`,
      );
    }
    const clear = names.filter(
      (n) =>
        info.authenticated?.includes(n) &&
        !info.tls?.includes(n) &&
        !isLoopbackHost(parseHostPort(info.listeners[n]!)?.host ?? ""),
    );
    if (clear.length > 0) {
      lines.push(
        `  WARNING: ${clear.join(", ")} take${clear.length === 1 ? "s" : ""} credentials over the network WITHOUT TLS: passwords and tokens travel in clear text.`,
        "  Set http.tls_cert_file / http.tls_key_file (kafka.tls_cert_file / kafka.tls_key_file for Kafka).",
      );
    }
  }
  if (info.listeners.http) {
    const scheme = info.tls?.includes("http") ? "https" : "http";
    const creds = info.authenticated?.includes("http") ? " --user NAME --password ..." : "";
    lines.push(`  Try: eddy topics --list --url ${scheme}://${info.listeners.http}${creds}`);
  }
  if (info.listeners.kafka) lines.push(`  Try: kcat -b ${info.listeners.kafka} -L`);
  if (info.listeners.http && info.listeners.mqtt) {
    const ws = info.tls?.includes("http") ? "wss" : "ws";
    lines.push(`  MQTT over WebSocket: ${ws}://${info.listeners.http}/mqtt (subprotocol mqtt)`);
  }
  const mqtt = info.listeners.mqtt ? parseHostPort(info.listeners.mqtt) : null;
  if (mqtt) lines.push(`  Try: mosquitto_sub -h ${mqtt.host} -p ${mqtt.port} -t '#' -v`);
  if (info.listeners.coap)
    lines.push(`  Try: coap-client -m get coap://${info.listeners.coap}/.well-known/core`);
  return `${lines.join("\n")}\n`;
}
