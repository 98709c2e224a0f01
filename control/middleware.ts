// Hono middleware of the control plane: request ids, the error envelope,
// bearer-token auth and edge validation with the shared zod schemas.
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type * as z from 'zod';
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Envelope } from '../shared/protocol/http.js';
import type { AccessTokenVerifier } from './auth.js';

export interface AuthenticatedUser {
  userId: string;
  /** REQ-001 display name, when the access token carries one */
  name?: string;
}

export interface ControlVariables {
  requestId: string;
  user: AuthenticatedUser;
}

export type ControlEnv = { Variables: ControlVariables };

export const REQUEST_ID_HEADER = 'x-request-id';
const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

export function ok<T>(c: Context, data: T, status: 200 | 201 = 200): Response {
  const body: Envelope<T> = { code: 0, message: 'success', data };
  return c.json(body, status);
}

function errorResponse(c: Context, error: AppError): Response {
  const body: Envelope<null> = { code: error.code, message: error.message, data: null };
  return c.json(body, error.httpStatus);
}

/** Takes a well-formed inbound x-request-id (tracing through API Gateway), otherwise makes one. */
export function requestIdMiddleware(generate: () => string): MiddlewareHandler<ControlEnv> {
  return async (c, next) => {
    const inbound = c.req.header(REQUEST_ID_HEADER);
    const requestId = inbound && SAFE_REQUEST_ID.test(inbound) ? inbound : generate();
    c.set('requestId', requestId);
    c.header(REQUEST_ID_HEADER, requestId);
    await next();
  };
}

/** One structured line per request (never the query string, which may carry secrets). */
export function accessLogMiddleware(logger: Logger, now: () => number): MiddlewareHandler<ControlEnv> {
  return async (c, next) => {
    const started = now();
    await next();
    logger.info('request', {
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((now() - started) * 10) / 10,
    });
  };
}

function fromHttpException(error: HTTPException): AppError {
  switch (error.status) {
    case 400:
    case 413:
      return new AppError(ErrorCode.BadRequest);
    case 401:
      return new AppError(ErrorCode.Unauthorized);
    case 403:
      return new AppError(ErrorCode.Forbidden);
    case 404:
      return new AppError(ErrorCode.RouteNotFound);
    default:
      return new AppError(ErrorCode.Internal, undefined, { cause: error });
  }
}

/** AppError and HTTPException become their registry envelope; anything else is a logged 500/50001. */
export function createErrorHandler(logger: Logger): ErrorHandler<ControlEnv> {
  return (error, c) => {
    const requestId = c.get('requestId');
    let appError: AppError;
    if (error instanceof AppError) appError = error;
    else if (error instanceof HTTPException) appError = fromHttpException(error);
    else appError = new AppError(ErrorCode.Internal, undefined, { cause: error });

    if (appError.code === ErrorCode.Internal) {
      logger.error('request failed', {
        requestId,
        method: c.req.method,
        path: c.req.path,
        error: appError.cause ?? error,
        stack: (appError.cause instanceof Error ? appError.cause : error).stack,
      });
      // never leak internals to clients
      appError = new AppError(ErrorCode.Internal);
    } else if (appError.httpStatus >= 500) {
      logger.warn('request refused', { requestId, path: c.req.path, code: appError.code });
    }
    if (requestId) c.header(REQUEST_ID_HEADER, requestId);
    return errorResponse(c, appError);
  };
}

export const notFoundHandler: NotFoundHandler<ControlEnv> = (c) => {
  return errorResponse(c, new AppError(ErrorCode.RouteNotFound));
};

export function authMiddleware(verifier: AccessTokenVerifier): MiddlewareHandler<ControlEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw new AppError(ErrorCode.Unauthorized, 'Missing bearer access token');
    const claims = await verifier.verify(match[1]);
    c.set('user', { userId: claims.sub, ...(claims.name ? { name: claims.name } : {}) });
    await next();
  };
}

function describeIssues(error: z.ZodError): string {
  const first = error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  return `Invalid request parameters: ${first.join('; ')}`;
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError(ErrorCode.BadRequest, describeIssues(parsed.error));
  return parsed.data;
}

/** Parses the JSON body (an empty body counts as `{}`) and validates it; malformed JSON is 40001. */
export async function readJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await c.req.text();
  let raw: unknown = {};
  if (text.trim() !== '') {
    try {
      raw = JSON.parse(text);
    } catch {
      throw new AppError(ErrorCode.BadRequest, 'Request body is not valid JSON');
    }
  }
  return parseWith(schema, raw);
}
