// Error codes -> sentences a person can act on. Never shows stack traces or raw server text for server codes.
import { ErrorCode } from '../../shared/errors.js';
import { CallError, ClientErrorCode } from '../sdk/index.js';

const byCode: Partial<Record<number, string>> = {
  [ErrorCode.Unauthorized]: 'Your sign-in has expired. Please enter your name and try again.',
  [ErrorCode.Forbidden]: "You're not a participant of this meeting. Ask the host for a fresh invite link.",
  [ErrorCode.MeetingNotFound]: "There's no meeting with that ID. Check the link and try again.",
  [ErrorCode.MeetingGone]: 'This meeting has ended.',
  [ErrorCode.MeetingEnded]: 'This meeting has ended.',
  [ErrorCode.NoMediaHost]: 'No media server is available right now. Please try again in a moment.',
  [ErrorCode.RateLimited]: "You're doing that too often. Please slow down and try again in a few seconds.",
  [ErrorCode.BadRequest]: "Something in that request wasn't right. Please reload the page and try again.",
  [ErrorCode.RouteNotFound]: "This server doesn't offer that feature.",
  [ErrorCode.Internal]: 'Something went wrong on our side. Please try again.',
  [ClientErrorCode.Network]: "We couldn't reach the server. Check your connection and try again.",
  [ClientErrorCode.Timeout]: 'The server is taking too long to answer. Please try again.',
};

function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** One sentence for any error, or null when there is nothing worth telling (the call was closed on purpose). */
export function describeError(error: unknown, context?: 'devToken'): string | null {
  if (!(error instanceof CallError)) return 'Something went wrong. Please reload the page and try again.';
  if (error.code === ClientErrorCode.CallClosed) return null;
  if (context === 'devToken' && (error.code === ErrorCode.RouteNotFound || error.httpStatus === 404)) {
    return "Guest sign-in isn't enabled on this server.";
  }
  switch (error.code) {
    // The SDK words these for people already (device, codec and browser problems).
    case ClientErrorCode.MediaDevice:
    case ClientErrorCode.UnsupportedCodec:
    case ClientErrorCode.UnsupportedBrowser:
      return sentence(error.message);
    case ClientErrorCode.SignallingClosed:
      return error.message.startsWith('Could not') || error.message.startsWith('Signalling')
        ? "We couldn't connect to the media server. Please try again."
        : sentence(error.message);
    default: {
      const base = byCode[error.code] ?? byCode[ErrorCode.Internal] ?? null;
      // The SDK prefixes in-call failures with what it was doing ("Could not receive Sam's video: ...").
      const doing = /^Could not [^:]{1,100}(?=:)/.exec(error.message)?.[0];
      return doing && base ? `${doing}. ${base}` : base;
    }
  }
}
