// Errors the SDK raises. Server failures keep the registry's numeric code
// (shared/errors.ts); failures that happen in the browser get a ClientErrorCode,
// which sits outside the registry's 4xxxx/5xxxx range so the two never clash.
import { ErrorCode } from '../../shared/errors.js';

export const ClientErrorCode = {
  /** fetch failed or the server answered something that is not an envelope */
  Network: 1001,
  /** a signalling request got no reply in time */
  Timeout: 1002,
  /** the signalling socket could not be opened or closed under us */
  SignallingClosed: 1003,
  /** getUserMedia failed: no device, or permission denied */
  MediaDevice: 1004,
  /** this browser cannot send or receive a codec the room uses */
  UnsupportedCodec: 1005,
  /** no WebRTC handler for this browser */
  UnsupportedBrowser: 1006,
  /** the call was left or ended while the operation ran */
  CallClosed: 1007,
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export type CallErrorCode = ErrorCode | ClientErrorCode | number;

export class CallError extends Error {
  readonly code: CallErrorCode;
  /** HTTP status, when the error came from the control plane */
  readonly httpStatus?: number;
  /** signalling request type, when the error came from the media host */
  readonly requestType?: string;

  constructor(
    code: CallErrorCode,
    message: string,
    options: { httpStatus?: number; requestType?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CallError';
    this.code = code;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
    if (options.requestType !== undefined) this.requestType = options.requestType;
  }
}

/** Wraps anything thrown into a CallError, keeping a CallError as it is. */
export function toCallError(error: unknown, fallbackCode: CallErrorCode = ErrorCode.Internal): CallError {
  if (error instanceof CallError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CallError(fallbackCode, message, { cause: error });
}

/** True for the codes that mean the meeting is over (HTTP 41001, WebSocket 40901). */
export function isMeetingEndedCode(code: number): boolean {
  return code === ErrorCode.MeetingGone || code === ErrorCode.MeetingEnded;
}
