/**
 * Access control lists per user and topic filter, in the spirit of
 * mosquitto's acl_file (config `[auth.acl]`, src/config/auth-schema.ts):
 *
 * - rules for one user (`users.<name>`), for clients without an
 *   authenticated user (`anonymous`), and patterns for everyone (`patterns`)
 *   where `%u` is the user name and `%c` the client id;
 * - each rule is `{ filter, access }`, filter an MQTT filter with `+`/`#`
 *   (wildcards at the start do not match `$` topics [MQTT-4.7.2-1]), access
 *   `read` (subscribe and receive), `write` (publish), `readwrite` or `deny`;
 * - a client's rules are its user's (or the anonymous ones) plus the
 *   patterns; a matching `deny` wins over any grant; nothing matching =
 *   denied. No ACL configured at all = everything allowed (compileAcl
 *   returns null, so zero-config keeps working).
 *
 * Checks:
 * - PUBLISH (and wills): some `write`/`readwrite` rule matches the topic;
 * - SUBSCRIBE: some `read`/`readwrite` rule's filter covers the whole
 *   subscription filter (every topic the filter matches, matches the rule —
 *   mosquitto's sub-matches-acl), and no `deny` rule covers it; a `$share`
 *   prefix is ignored;
 * - delivery: each message is read-checked against its topic before it is
 *   sent, so `#` under `allow #, deny secret/#` never delivers secret/x;
 *   reverse-mapped records and retained messages go through the same check.
 *
 * A pattern is skipped when the substituted value is missing (`%u` for an
 * anonymous client) or contains `/`, `+` or `#`: a client id `a/b` must not
 * reach another device's `devices/a/...` subtree.
 */
import { parseSubscriptionFilter, topicMatches } from "./topic-filter.ts";

export const AclAccess = {
  READ: "read",
  WRITE: "write",
  READWRITE: "readwrite",
  DENY: "deny",
} as const;
export type AclAccess = (typeof AclAccess)[keyof typeof AclAccess];

export interface AclRule {
  filter: string;
  access: AclAccess;
}

export interface MqttAclConfig {
  /** Rules per authenticated user name. */
  users?: Readonly<Record<string, readonly AclRule[]>>;
  /** Rules for clients without an authenticated user. */
  anonymous?: readonly AclRule[];
  /** Rules for every client; `%u` = user name, `%c` = client id. */
  patterns?: readonly AclRule[];
}

/** One access decision, with the rule that made it (null: no rule matched). */
export interface AclDecision {
  allowed: boolean;
  rule: AclRule | null;
}

export interface MqttAcl {
  canPublish(user: string | null, clientId: string, topic: string): boolean;
  /** `filter` as sent, including any `$share/{group}/` prefix. */
  canSubscribe(user: string | null, clientId: string, filter: string): boolean;
  /** May this client receive a message on `topic` (delivery, retained)? */
  canRead(user: string | null, clientId: string, topic: string): boolean;
  /** The rules that apply to a client, patterns substituted. */
  rulesFor(user: string | null, clientId: string): AclRule[];
  /** Why a client may or may not read / write `topic` (`eddy mqtt explain`). */
  explain(user: string | null, clientId: string, topic: string): { read: AclDecision; write: AclDecision };
}

const READ = 1;
const WRITE = 2;
const CHECKED = 4;
const MAX_CLIENTS = 10_000;
const MAX_TOPICS_PER_CLIENT = 1024;

const bitsOf = (access: AclAccess): number =>
  access === "read" ? READ : access === "write" ? WRITE : access === "readwrite" ? READ | WRITE : 0;

interface ClientAcl {
  rules: AclRule[];
  /** Topic → CHECKED | READ | WRITE bits (a bounded cache for the hot paths). */
  topics: Map<string, number>;
}

/** Compile the ACL config; null when it has no rule at all (then everything is allowed). */
export function compileAcl(config: MqttAclConfig | undefined): MqttAcl | null {
  if (config === undefined) return null;
  const users = new Map(Object.entries(config.users ?? {}));
  const anonymous = config.anonymous ?? [];
  const patterns = config.patterns ?? [];
  if (users.size === 0 && anonymous.length === 0 && patterns.length === 0) return null;

  const clients = new Map<string, ClientAcl>();
  const rulesFor = (user: string | null, clientId: string): AclRule[] => {
    const own = user === null ? anonymous : (users.get(user) ?? []);
    const out = [...own];
    for (const p of patterns) {
      const filter = substitute(p.filter, user, clientId);
      if (filter !== null) out.push({ filter, access: p.access });
    }
    return out;
  };
  const client = (user: string | null, clientId: string): ClientAcl => {
    const key = user === null ? `\u0000${clientId}` : `${user}\u0000\u0001${clientId}`;
    let c = clients.get(key);
    if (c === undefined) {
      if (clients.size >= MAX_CLIENTS) clients.clear();
      c = { rules: rulesFor(user, clientId), topics: new Map() };
      clients.set(key, c);
    }
    return c;
  };
  const topicBits = (c: ClientAcl, topic: string): number => {
    let bits = c.topics.get(topic);
    if (bits === undefined) {
      bits = CHECKED;
      let denied = false;
      for (const r of c.rules) {
        if (!topicMatches(r.filter, topic)) continue;
        if (r.access === "deny") denied = true;
        else bits |= bitsOf(r.access);
      }
      if (denied) bits = CHECKED;
      if (c.topics.size >= MAX_TOPICS_PER_CLIENT) c.topics.clear();
      c.topics.set(topic, bits);
    }
    return bits;
  };
  const decide = (rules: AclRule[], topic: string, bit: number): AclDecision => {
    let grant: AclRule | null = null;
    for (const r of rules) {
      if (!topicMatches(r.filter, topic)) continue;
      if (r.access === "deny") return { allowed: false, rule: r };
      if (grant === null && (bitsOf(r.access) & bit) !== 0) grant = r;
    }
    return { allowed: grant !== null, rule: grant };
  };

  return {
    canPublish: (user, clientId, topic) => (topicBits(client(user, clientId), topic) & WRITE) !== 0,
    canRead: (user, clientId, topic) => (topicBits(client(user, clientId), topic) & READ) !== 0,
    canSubscribe(user, clientId, raw) {
      const parsed = parseSubscriptionFilter(raw);
      if (parsed === null) return false;
      let granted = false;
      for (const r of client(user, clientId).rules) {
        if (!filterCovers(r.filter, parsed.filter)) continue;
        if (r.access === "deny") return false;
        if ((bitsOf(r.access) & READ) !== 0) granted = true;
      }
      return granted;
    },
    rulesFor,
    explain(user, clientId, topic) {
      const rules = client(user, clientId).rules;
      return { read: decide(rules, topic, READ), write: decide(rules, topic, WRITE) };
    },
  };
}

/** `%u` → user, `%c` → client id; null when a value is missing or could escape its level. */
function substitute(filter: string, user: string | null, clientId: string): string | null {
  const unsafe = (v: string) => v === "" || /[/+#]/.test(v);
  if (filter.includes("%u") && (user === null || unsafe(user))) return null;
  if (filter.includes("%c") && unsafe(clientId)) return null;
  return filter.replaceAll("%u", user ?? "").replaceAll("%c", clientId);
}

/**
 * Does the ACL filter `acl` match every topic the subscription filter `sub`
 * matches? (`a/#` covers `a/+/b` and `a`; `a/+` does not cover `a/#`.)
 */
export function filterCovers(acl: string, sub: string): boolean {
  const a = acl.split("/");
  const s = sub.split("/");
  // A wildcard first level never matches `$` topics [MQTT-4.7.2-1]: it cannot cover `$SYS/...`.
  if ((a[0] === "+" || a[0] === "#") && s[0]!.startsWith("$")) return false;
  for (let i = 0; i < a.length; i++) {
    const al = a[i]!;
    if (al === "#") return true;
    if (i >= s.length) return false;
    const sl = s[i]!;
    if (sl === "#") return false;
    if (al === "+") continue;
    if (sl === "+" || al !== sl) return false;
  }
  return a.length === s.length;
}
