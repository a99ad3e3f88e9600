/**
 * Listener check of `eddy doctor`: can `eddy serve` bind each configured
 * address, over the listener's own transport (TCP, or UDP for CoAP)? A busy
 * port is fine when the broker already answers there (its /health names it;
 * for CoAP, a CoAP ping is answered); anything else says who is in the way
 * and what to change.
 */
import dgram from "node:dgram";
import net from "node:net";
import { formatHostPort, type HostPort } from "../../config/listen.ts";
import { type CheckResult, CheckStatus } from "./types.ts";

export const Transport = { TCP: "tcp", UDP: "udp" } as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

/** One address `eddy serve` would listen on. */
export interface ListenerPlan {
  /** "http", "kafka", "mqtt", "mqtt_tls", "coap", "peer". */
  name: string;
  hp: HostPort;
  transport: Transport;
  /** The config key that sets it, for the fix line. */
  key: string;
  /** Ask GET /health when the port is busy (HTTP listeners). */
  probeHttp?: boolean;
  /** Send a CoAP ping when the port is busy (CoAP). */
  probeCoap?: boolean;
}

/** Try to bind host:port over TCP or UDP; resolves to null when it could, else the error code. */
export function tryBind(hp: HostPort, transport: Transport = Transport.TCP): Promise<string | null> {
  return transport === Transport.UDP ? tryBindUdp(hp) : tryBindTcp(hp);
}

function tryBindTcp(hp: HostPort): Promise<string | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host: hp.host, port: hp.port, exclusive: true }, () => {
      server.close(() => resolve(null));
    });
  });
}

function tryBindUdp(hp: HostPort): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: hp.host.includes(":") ? "udp6" : "udp4" });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      socket.close();
      resolve(err.code ?? err.message);
    });
    socket.bind({ address: hp.host, port: hp.port, exclusive: true }, () => {
      socket.close(() => resolve(null));
    });
  });
}

/** Send a CoAP ping (an Empty CON, RFC 7252 §4.3); true when a Reset with its message id comes back. */
export function coapPing(hp: HostPort, timeoutMs: number): Promise<boolean> {
  const host = hp.host === "0.0.0.0" ? "127.0.0.1" : hp.host === "::" ? "::1" : hp.host;
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
    const id = Math.floor(Math.random() * 0x10000);
    let done = false;
    const finish = (answered: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once("error", () => finish(false));
    socket.on("message", (msg: Buffer) => {
      // Version 1, type RST (3): 0x7X; code 0.00; the same message id.
      if (msg.length >= 4 && (msg[0]! & 0xf0) === 0x70 && msg[1] === 0 && msg.readUInt16BE(2) === id) {
        finish(true);
      }
    });
    socket.send(new Uint8Array([0x40, 0x00, id >> 8, id & 0xff]), hp.port, host, (err) => {
      if (err) finish(false);
    });
  });
}

interface HealthInfo {
  version: string;
  nodeId: number;
}

/** GET http://host:port/health; the broker's identity if an Eddy broker answers. */
async function probeEddy(hp: HostPort, timeoutMs: number): Promise<HealthInfo | null> {
  const host = hp.host === "0.0.0.0" ? "127.0.0.1" : hp.host === "::" ? "::1" : hp.host;
  const url = `http://${formatHostPort({ host, port: hp.port })}/health`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as Partial<HealthInfo> & { clusterId?: unknown };
    if (typeof body.clusterId !== "string" || typeof body.version !== "string") return null;
    return { version: body.version, nodeId: Number(body.nodeId) };
  } catch {
    return null;
  }
}

export async function checkListener(
  plan: ListenerPlan,
  opts: { probeTimeoutMs: number },
): Promise<CheckResult> {
  const { hp, key, transport } = plan;
  const check = `listener ${plan.name} (${transport})`;
  const where = formatHostPort(hp);
  if (hp.port === 0)
    return { name: check, status: CheckStatus.OK, summary: `${where}: port 0 picks a free port` };
  const code = await tryBind(hp, transport);
  if (code === null) return { name: check, status: CheckStatus.OK, summary: `${where} is free` };
  if (code === "EADDRINUSE") {
    const eddy = plan.probeHttp ? await probeEddy(hp, opts.probeTimeoutMs) : null;
    if (eddy) {
      return {
        name: check,
        status: CheckStatus.OK,
        summary: `${where}: an Eddy broker already answers here (node ${eddy.nodeId}, version ${eddy.version})`,
      };
    }
    if (plan.probeCoap && (await coapPing(hp, opts.probeTimeoutMs))) {
      return {
        name: check,
        status: CheckStatus.WARN,
        summary: `${where} is in use by a CoAP server (it answers a CoAP ping)`,
        fix: `if it is this Eddy broker, nothing to do; else stop it (\`ss -lunp 'sport = :${hp.port}'\`) or set ${key} to another address`,
      };
    }
    const ss = transport === Transport.UDP ? "ss -lunp" : "ss -ltnp";
    return {
      name: check,
      status: CheckStatus.FAIL,
      summary: `${where} is in use by another program`,
      fix: `find it with \`${ss} 'sport = :${hp.port}'\` and stop it, or set ${key} to another address`,
    };
  }
  if (code === "EACCES") {
    return {
      name: check,
      status: CheckStatus.FAIL,
      summary: `${where}: not allowed to bind ${transport} port ${hp.port}`,
      fix:
        hp.port < 1024
          ? `use a port above 1023, or grant CAP_NET_BIND_SERVICE (AmbientCapabilities= in eddy.service)`
          : `check firewall or security policy (SELinux/AppArmor), or set ${key} to another address`,
    };
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return {
      name: check,
      status: CheckStatus.FAIL,
      summary: `${where}: ${hp.host} is not an address of this machine`,
      fix: `set ${key} to one of this machine's addresses (ip -brief address), or 127.0.0.1:${hp.port}`,
    };
  }
  return {
    name: check,
    status: CheckStatus.FAIL,
    summary: `${where}: cannot bind ${transport} (${code})`,
    fix: `set ${key} to another address`,
  };
}
