/** Listener addresses: "host:port" strings, IPv6 as "[::1]:port". */

export interface HostPort {
  host: string;
  port: number;
}

/** Parse "127.0.0.1:8080", "localhost:0", "[::1]:9092", ":8080" (all interfaces); null if malformed. */
export function parseHostPort(value: string): HostPort | null {
  const s = value.trim();
  let host: string;
  let portText: string;
  const v6 = /^\[([0-9a-fA-F:.%a-zA-Z]+)\]:(\d+)$/.exec(s);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else {
    const i = s.lastIndexOf(":");
    if (i < 0) return null;
    host = s.slice(0, i);
    portText = s.slice(i + 1);
    if (host.includes(":")) return null; // bare IPv6 needs brackets
    if (host === "") host = "0.0.0.0";
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return null;
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}
