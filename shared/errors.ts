// The one error registry. HTTP replies and WebSocket error replies both come
// from it. Codes 40001..50001 are REQ-003's; the others are ours and marked.

export const ErrorCode = {
  BadRequest: 40001,
  /** ours: missing, expired, forged or wrong-kind token */
  Unauthorized: 40101,
  Forbidden: 40301,
  MeetingNotFound: 40401,
  TransportNotFound: 40402,
  ProducerNotFound: 40403,
  /** ours: consumerId unknown to this peer */
  ConsumerNotFound: 40404,
  /** ours: no such route */
  RouteNotFound: 40405,
  /** WebSocket: the meeting has ended, no media session can be set up */
  MeetingEnded: 40901,
  /** HTTP: the meeting has ended */
  MeetingGone: 41001,
  /** ours: signalling rate limit (10 msg/s per user) exceeded */
  RateLimited: 42901,
  Internal: 50001,
  /** ours: no live media host can take the meeting */
  NoMediaHost: 50301,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface ErrorSpec {
  httpStatus: 400 | 401 | 403 | 404 | 409 | 410 | 429 | 500 | 503;
  message: string;
}

export const errorRegistry: Record<ErrorCode, ErrorSpec> = {
  40001: { httpStatus: 400, message: 'Invalid request parameters' },
  40101: { httpStatus: 401, message: 'Missing or invalid access token' },
  40301: { httpStatus: 403, message: 'No permission to access this meeting' },
  40401: { httpStatus: 404, message: 'Meeting not found' },
  40402: { httpStatus: 404, message: 'Transport not found' },
  40403: { httpStatus: 404, message: 'Producer not found' },
  40404: { httpStatus: 404, message: 'Consumer not found' },
  40405: { httpStatus: 404, message: 'Route not found' },
  40901: { httpStatus: 409, message: 'Meeting has ended' },
  41001: { httpStatus: 410, message: 'Meeting has ended' },
  42901: { httpStatus: 429, message: 'Too many signalling messages' },
  50001: { httpStatus: 500, message: 'Internal server error' },
  50301: { httpStatus: 503, message: 'No media host available' },
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'number' && Object.hasOwn(errorRegistry, value);
}

/** An error that carries a registry code; anything else thrown is reported as 50001. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: ErrorSpec['httpStatus'];

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? errorRegistry[code].message, options);
    this.name = 'AppError';
    this.code = code;
    this.httpStatus = errorRegistry[code].httpStatus;
  }
}

/** Maps anything thrown to a registry code and a message that is safe to show a client. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError(ErrorCode.Internal, undefined, { cause: error });
}
