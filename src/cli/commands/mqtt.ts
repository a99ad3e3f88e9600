/**
 * `eddy mqtt` — the MQTT bridge of a running broker, over its HTTP API:
 * connected clients, sessions, a mapping dry-run, disconnecting a client.
 */
import { parseCommandArgs } from "../args.ts";
import { seg } from "../client.ts";
import { table } from "../format.ts";
import type { Ctx } from "../io.ts";
import { type Command, connectHttp, HTTP_CLIENT_HELP, HTTP_CLIENT_OPTIONS } from "./command.ts";

const HELP = `Usage: eddy mqtt (clients | sessions | explain TOPIC | disconnect CLIENT-ID) [options]

The MQTT bridge of a running broker (over its HTTP API).

  clients              connected MQTT clients (TCP, TLS, WebSocket)
  sessions             sessions, connected or persistent, with subscriptions and backlog
  explain TOPIC        where a PUBLISH to the MQTT topic TOPIC is stored (stream topic,
                       key, partition) and which sessions would receive it
  disconnect CLIENT-ID disconnect a client (its persistent session stays)

Options:
  --json               print the API's JSON instead of a table
${HTTP_CLIENT_HELP}

Examples:
  eddy mqtt clients
  eddy mqtt explain sensors/dev-1/temp
  eddy mqtt disconnect dev-1 --user ops     (password from $EDDY_PASSWORD)
`;

const OPTIONS = {
  ...HTTP_CLIENT_OPTIONS,
  json: { type: "boolean" },
} as const;

interface Client {
  clientId: string;
  user: string | null;
  protocolVersion: number;
  remoteAddress: string;
  keepAlive: number;
  subscriptions: number;
  inflight: number;
  queuedBytes: number;
}
interface Session {
  clientId: string;
  connected: boolean;
  expiryInterval: number;
  subscriptions: Array<{ filter: string; qos: number }>;
  inflight: number;
  backlog: number;
}
interface Explanation {
  topic: string;
  stored: { streamTopic: string; key: string | null; partition: number } | null;
  subscribers: Array<{
    clientId: string;
    filter: string;
    qos: number;
    connected: boolean;
    authorized?: boolean;
  }>;
  sharedGroups: Array<{ group: string; filter: string; members: number }>;
}

const VERSIONS: Record<number, string> = { 3: "3.1", 4: "3.1.1", 5: "5.0" };

export const mqttCommand: Command = {
  name: "mqtt",
  summary: "MQTT clients, sessions and topic mapping of a running broker",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("mqtt", argv, OPTIONS, true);
    const [action, arg, ...extra] = args.positionals;
    if (extra.length > 0) throw args.usage(`unexpected argument "${extra[0]}"`);
    const needsArg = action === "explain" || action === "disconnect";
    if (needsArg && !arg)
      throw args.usage(`mqtt ${action} needs ${action === "explain" ? "an MQTT topic" : "a client id"}`);
    if (!needsArg && arg !== undefined) throw args.usage(`unexpected argument "${arg}"`);
    const http = await connectHttp(args, ctx);
    const get = <T>(path: string, query?: Record<string, string>) =>
      http.request<T>("GET", path, { query, signal: ctx.signal });
    const json = args.flag("json");
    switch (action) {
      case "clients": {
        const { clients } = await get<{ clients: Client[] }>("/v1/mqtt/clients");
        if (json) return print(ctx, { clients });
        const rows = clients.map((c) => [
          c.clientId,
          VERSIONS[c.protocolVersion] ?? String(c.protocolVersion),
          c.remoteAddress,
          c.user,
          c.keepAlive,
          c.subscriptions,
          c.inflight,
          c.queuedBytes,
        ]);
        await ctx.out(
          table(
            ["CLIENT-ID", "MQTT", "ADDRESS", "USER", "KEEP-ALIVE", "SUBS", "INFLIGHT", "QUEUED-BYTES"],
            rows,
          ),
        );
        return 0;
      }
      case "sessions": {
        const { sessions } = await get<{ sessions: Session[] }>("/v1/mqtt/sessions");
        if (json) return print(ctx, { sessions });
        const rows = sessions.map((s) => [
          s.clientId,
          s.connected ? "yes" : "no",
          s.expiryInterval === 0xffffffff ? "never" : `${s.expiryInterval}s`,
          s.subscriptions.map((sub) => `${sub.filter}@${sub.qos}`).join(",") || null,
          s.inflight,
          s.backlog,
        ]);
        await ctx.out(
          table(["CLIENT-ID", "CONNECTED", "EXPIRES", "SUBSCRIPTIONS", "INFLIGHT", "BACKLOG"], rows),
        );
        return 0;
      }
      case "explain": {
        const e = await get<Explanation>("/v1/mqtt/explain", { topic: arg! });
        if (json) return print(ctx, e);
        const lines = [
          e.stored
            ? `stored in topic ${e.stored.streamTopic}, partition ${e.stored.partition}, key ${e.stored.key ?? "(none)"}`
            : "refused: no mapping rule takes this topic (and mqtt.default_topic is off)",
          ...(e.subscribers.length === 0 && e.sharedGroups.length === 0
            ? ["no subscriber would receive it"]
            : []),
          ...e.subscribers.map((s) =>
            s.authorized === false
              ? `not delivered to ${s.clientId} (filter ${s.filter}): the ACL does not let it read this topic`
              : `delivered to ${s.clientId} (filter ${s.filter}, QoS ${s.qos}${s.connected ? "" : ", offline"})`,
          ),
          ...e.sharedGroups.map(
            (g) => `delivered to one of ${g.members} in shared group ${g.group} (${g.filter})`,
          ),
        ];
        await ctx.out(`${lines.join("\n")}\n`);
        return 0;
      }
      case "disconnect": {
        await http.request("DELETE", `/v1/mqtt/clients/${seg(arg!)}`, { signal: ctx.signal });
        await ctx.out(`Disconnected MQTT client ${arg}.\n`);
        return 0;
      }
      default:
        throw args.usage(
          action ? `unknown action "${action}"` : "give an action: clients, sessions, explain or disconnect",
        );
    }
  },
};

async function print(ctx: Ctx, value: unknown): Promise<number> {
  await ctx.out(`${JSON.stringify(value, null, 2)}\n`);
  return 0;
}
