/**
 * RFC 6690 CoRE Link Format: `/.well-known/core` lists the topic collection
 * (rt="core.ps.coll"), every topic resource (rt="core.ps.conf") and every
 * topic-data resource (rt="core.ps.data", obs), each with `ct`. Query
 * filtering per RFC 6690 §4.1: one `name=value` parameter, `value*` matches a
 * prefix, `href` matches the link target, `rt`/`if` match any space-separated value.
 */
import type { BrokerApi, TopicMapping } from "../../../src/broker/index.ts";
import { Code, ContentFormat, OptionNumber } from "../codec/constants.ts";
import { uintOption } from "../codec/options.ts";
import type { ResponseSpec } from "../message-layer.ts";
import type { CoapRequest } from "../request.ts";
import { diagnostic } from "../request.ts";
import { RT_COLLECTION, RT_DATA, RT_TOPIC } from "./topic-config.ts";
import type { TopicPropsStore } from "./topic-props-store.ts";

export interface Link {
  href: string;
  attrs: Array<[string, string | number | true]>;
}

export function formatLinks(links: Link[]): string {
  return links
    .map((l) => {
      const attrs = l.attrs.map(([k, v]) =>
        v === true ? `;${k}` : typeof v === "number" ? `;${k}=${v}` : `;${k}="${v}"`,
      );
      return `<${l.href}>${attrs.join("")}`;
    })
    .join(",");
}

function matches(link: Link, name: string, value: string): boolean {
  const prefix = value.endsWith("*");
  const want = prefix ? value.slice(0, -1) : value;
  const test = (s: string) => (prefix ? s.startsWith(want) : s === want);
  if (name === "href") return test(link.href);
  return link.attrs.some(([k, v]) => {
    if (k !== name) return false;
    if (v === true) return value === "" || value === "*";
    const s = String(v);
    return name === "rt" || name === "if" ? s.split(" ").some(test) : test(s);
  });
}

/** Apply the first query parameter as an RFC 6690 filter. */
export function filterLinks(links: Link[], query: Map<string, string>): Link[] {
  const first = query.entries().next();
  if (first.done) return links;
  const [name, value] = first.value;
  return links.filter((l) => matches(l, name, value));
}

export async function topicLinks(
  broker: BrokerApi,
  props: TopicPropsStore,
  prefix: string,
  mapping?: TopicMapping,
): Promise<{ topics: Link[]; data: Link[] }> {
  const names = (await broker.listTopics()).map((t) => t.name).filter((n) => !n.startsWith("__"));
  // Mapped topics created over CoAP (their names contain "/"; see mapped-topics.ts).
  if (mapping) names.push(...props.names().filter((n) => n.includes("/")));
  names.sort();
  const topics: Link[] = [];
  const data: Link[] = [];
  for (const name of names) {
    topics.push({
      href: `/${prefix}/${name.replaceAll("/", "%2F")}`,
      attrs: [
        ["rt", RT_TOPIC],
        ["ct", ContentFormat.CORE_PUBSUB_CBOR],
      ],
    });
    const attrs: Link["attrs"] = [
      ["rt", RT_DATA],
      ["obs", true],
    ];
    const cf = props.get(name).contentFormat;
    if (cf !== undefined) attrs.push(["ct", cf]);
    data.push({ href: `/${prefix}/data/${name}`, attrs });
  }
  return { topics, data };
}

export function linkResponse(links: Link[]): ResponseSpec {
  return {
    code: Code.CONTENT,
    options: [uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.LINK_FORMAT)],
    payload: new TextEncoder().encode(formatLinks(links)),
  };
}

export async function wellKnownCore(
  broker: BrokerApi,
  props: TopicPropsStore,
  prefix: string,
  req: CoapRequest,
  mapping?: TopicMapping,
): Promise<ResponseSpec> {
  if (req.method !== Code.GET)
    return diagnostic(Code.METHOD_NOT_ALLOWED, "/.well-known/core supports GET only");
  const { topics, data } = await topicLinks(broker, props, prefix, mapping);
  const all: Link[] = [
    {
      href: `/${prefix}`,
      attrs: [
        ["rt", RT_COLLECTION],
        ["ct", ContentFormat.LINK_FORMAT],
      ],
    },
    ...topics,
    ...data,
  ];
  return linkResponse(filterLinks(all, req.query));
}
