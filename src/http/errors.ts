/**
 * HTTP error bodies. Every error leaves as
 *   { "error": { "code", "message", "retriable", "details" } }
 * with the status from ERROR_TABLE; zod failures become 400 INVALID_REQUEST
 * naming the field (`body.records[0].value`), so clients never parse text.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { ERROR_TABLE, EddyError, ErrorCode, toEddyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    retriable: boolean;
    details: Record<string, unknown> | null;
  };
}

export function errorBody(err: EddyError): ErrorBody {
  return {
    error: {
      code: err.code,
      message: err.message,
      retriable: err.retriable,
      details: err.details ? { ...err.details } : null,
    },
  };
}

export function errorResponse(err: EddyError): Response {
  return Response.json(errorBody(err), { status: ERROR_TABLE[err.code].http });
}

export type RequestPart = "params" | "query" | "body" | "headers";

/** Render zod issues as one INVALID_REQUEST that names each bad field. */
export function validationError(part: RequestPart, error: z.ZodError): EddyError {
  const issues = error.issues.map((issue) => ({
    field: fieldName(part, issue.path),
    message: issue.message,
  }));
  const first = issues[0];
  const summary = first ? `${first.field}: ${first.message}` : `${part} is invalid`;
  const more =
    issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
  return new EddyError(ErrorCode.INVALID_REQUEST, `invalid request: ${summary}${more}`, { issues });
}

export function fieldName(part: RequestPart, path: ReadonlyArray<PropertyKey>): string {
  let out: string = part;
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += `.${String(seg)}`;
  }
  return out;
}

export function invalidRequest(message: string, details?: Record<string, unknown>): EddyError {
  return new EddyError(ErrorCode.INVALID_REQUEST, message, details);
}

/** hono's onError: anything thrown by a handler becomes a JSON error. */
export function makeErrorHandler(logger: Logger) {
  return (err: Error, c: Context): Response => {
    let eddy: EddyError;
    if (err instanceof HTTPException) {
      eddy = fromHttpException(err);
    } else {
      eddy = toEddyError(err);
      if (eddy.code === ErrorCode.UNKNOWN) {
        logger.error("http handler failed", { method: c.req.method, path: c.req.path, err });
      }
    }
    return errorResponse(eddy);
  };
}

function fromHttpException(err: HTTPException): EddyError {
  if (err.status === 413) {
    return new EddyError(
      ErrorCode.BATCH_TOO_LARGE,
      "request body is too large: send fewer or smaller records",
    );
  }
  if (err.status === 404) return new EddyError(ErrorCode.NOT_FOUND, err.message || "not found");
  if (err.status >= 400 && err.status < 500) {
    return new EddyError(ErrorCode.INVALID_REQUEST, err.message || `bad request (HTTP ${err.status})`);
  }
  return new EddyError(ErrorCode.UNKNOWN, err.message || `HTTP ${err.status}`);
}

export function notFoundHandler(c: Context): Response {
  return errorResponse(
    new EddyError(
      ErrorCode.NOT_FOUND,
      `no route for ${c.req.method} ${c.req.path}: see /openapi.json for the API's routes`,
      { method: c.req.method, path: c.req.path },
    ),
  );
}
