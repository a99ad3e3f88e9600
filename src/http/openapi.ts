/**
 * One zod schema per route part, used twice: to validate requests and to
 * write the OpenAPI 3.1 document served at /openapi.json (via zod 4's
 * z.toJSONSchema, whose draft 2020-12 output is OpenAPI 3.1's schema dialect).
 *
 * Why not @hono/zod-openapi: it supports zod 4 and runs under Bun, but pulls
 * in three more packages for what z.toJSONSchema does here in a few lines.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import { invalidRequest, type RequestPart, validationError } from "./errors.ts";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

export interface ResponseDoc {
  description: string;
  /** JSON schema of the body (application/json unless contentType says otherwise). */
  schema?: z.ZodType;
  contentType?: string;
}

export interface RequestBodyDoc {
  contentType: string;
  description?: string;
  schema?: z.ZodType;
}

export interface RouteSpec<P, Q, B> {
  method: HttpMethod;
  /** OpenAPI-style path: /v1/topics/{topic}. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  /** Validated JSON body. */
  body?: B;
  /** Bodies the handler reads itself (documented only), e.g. application/octet-stream. */
  otherBodies?: RequestBodyDoc[];
  responses: Record<number, ResponseDoc>;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface RouteInput<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
}

export type RouteHandler<P, Q, B> = (c: Context, input: RouteInput<P, Q, B>) => Response | Promise<Response>;

type AnyRouteSpec = RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>;

/** Registers routes on a hono app and remembers them for the OpenAPI document. */
export class ApiRouter {
  readonly routes: AnyRouteSpec[] = [];

  constructor(private readonly app: Hono) {}

  add<
    P extends z.ZodType | undefined = undefined,
    Q extends z.ZodType | undefined = undefined,
    B extends z.ZodType | undefined = undefined,
  >(spec: RouteSpec<P, Q, B>, handler: RouteHandler<P, Q, B>): void {
    this.routes.push(spec as AnyRouteSpec);
    const honoPath = spec.path.replace(/\{(\w+)\}/g, ":$1");
    this.app.on(spec.method.toUpperCase(), honoPath, async (c) => {
      const params = spec.params ? validate("params", spec.params, c.req.param()) : undefined;
      const query = spec.query ? validate("query", spec.query, c.req.query()) : undefined;
      const body = spec.body ? validate("body", spec.body, await readJsonBody(c)) : undefined;
      return handler(c, { params, query, body } as RouteInput<P, Q, B>);
    });
  }
}

export function validate<T extends z.ZodType>(part: RequestPart, schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(part, result.error);
  return result.data;
}

/** The request body parsed as JSON; bad JSON is a 400 naming the position. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidRequest(`request body is not valid JSON (${(err as Error).message}): send a JSON document`);
  }
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** The OpenAPI 3.1 document for the registered routes. */
export function buildOpenApiDocument(
  routes: readonly AnyRouteSpec[],
  info: OpenApiInfo,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = {
      operationId: operationId(r),
      summary: r.summary,
      tags: [r.tag],
    };
    if (r.description) op.description = r.description;
    const parameters = [...paramDocs(r.params, "path"), ...paramDocs(r.query, "query")];
    if (parameters.length > 0) op.parameters = parameters;
    const bodies: Record<string, unknown> = {};
    if (r.body) bodies["application/json"] = { schema: jsonSchema(r.body, "input") };
    for (const b of r.otherBodies ?? []) {
      bodies[b.contentType] = b.schema ? { schema: jsonSchema(b.schema, "input") } : {};
    }
    if (Object.keys(bodies).length > 0) op.requestBody = { required: true, content: bodies };
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      const content =
        res.schema || res.contentType
          ? {
              [res.contentType ?? "application/json"]: res.schema
                ? { schema: jsonSchema(res.schema, "output") }
                : {},
            }
          : undefined;
      responses[status] = content
        ? { description: res.description, content }
        : { description: res.description };
    }
    responses.default = {
      description: "Error",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
    op.responses = responses;
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method] = op;
  }
  return {
    openapi: "3.1.0",
    info,
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    paths,
    components: { schemas: { Error: jsonSchema(errorSchema, "output") } },
  };
}

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe("Stable error code, e.g. TOPIC_NOT_FOUND"),
      message: z.string().describe("What went wrong and what to do next"),
      retriable: z.boolean(),
      details: z.record(z.string(), z.unknown()).nullable(),
    }),
  })
  .describe("Every error response has this body");

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as Record<
    string,
    unknown
  >;
  delete out.$schema;
  return out;
}

function paramDocs(schema: z.ZodType | undefined, where: "path" | "query"): Record<string, unknown>[] {
  if (!schema) return [];
  if (!(schema instanceof z.ZodObject)) throw new Error("params and query schemas must be z.object()");
  const shape = schema.shape as Record<string, z.ZodType>;
  return Object.entries(shape).map(([name, field]) => {
    const s = jsonSchema(field, "input");
    const description = typeof s.description === "string" ? s.description : undefined;
    delete s.description;
    const doc: Record<string, unknown> = {
      name,
      in: where,
      required: where === "path" || !isOptional(field),
      schema: s,
    };
    if (description) doc.description = description;
    return doc;
  });
}

function isOptional(field: z.ZodType): boolean {
  return field.safeParse(undefined).success;
}

function operationId(r: AnyRouteSpec): string {
  const words = r.path
    .split("/")
    .filter((s) => s && s !== "v1")
    .map((s) => s.replace(/[{}]/g, "").replace(/-(\w)/g, (_, ch: string) => ch.toUpperCase()));
  return [r.method, ...words].map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join("");
}
