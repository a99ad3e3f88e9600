/**
 * Listener check of `eddy doctor`: can `eddy serve` bind each configured
 * address? A busy port is fine when the broker already answers there (its
 * /health names it); anything else says who is in the way and what to change.
 */
import net from "node:net";
import { formatHostPort, type HostPort } from "../../config/listen.ts";
import { type CheckResult, CheckStatus } from "./types.ts";

/** Try to bind host:port; resolves to null when it could, else the error code. */
export function tryBind(hp: HostPort): Promise<string | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host: hp.host, port: hp.port, exclusive: true }, () => {
      server.close(() => resolve(null));
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
  name: string,
  hp: HostPort,
  opts: { probeTimeoutMs: number; probeHttp: boolean },
): Promise<CheckResult> {
  const check = `listener ${name}`;
  const where = formatHostPort(hp);
  const key = `listeners.${name}`;
  if (hp.port === 0)
    return { name: check, status: CheckStatus.OK, summary: `${where}: port 0 picks a free port` };
  const code = await tryBind(hp);
  if (code === null) return { name: check, status: CheckStatus.OK, summary: `${where} is free` };
  if (code === "EADDRINUSE") {
    const eddy = opts.probeHttp ? await probeEddy(hp, opts.probeTimeoutMs) : null;
    if (eddy) {
      return {
        name: check,
        status: CheckStatus.OK,
        summary: `${where}: an Eddy broker already answers here (node ${eddy.nodeId}, version ${eddy.version})`,
      };
    }
    return {
      name: check,
      status: CheckStatus.FAIL,
      summary: `${where} is in use by another program`,
      fix: `find it with \`ss -ltnp 'sport = :${hp.port}'\` and stop it, or set ${key} to another address`,
    };
  }
  if (code === "EACCES") {
    return {
      name: check,
      status: CheckStatus.FAIL,
      summary: `${where}: not allowed to bind port ${hp.port}`,
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
    summary: `${where}: cannot bind (${code})`,
    fix: `set ${key} to another address`,
  };
}
