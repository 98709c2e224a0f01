// Control-plane HTTP calls. Every reply is the contract's envelope
// `{code, message, data}`; a non-zero code becomes a CallError with that code.
import type {
  CreateMeetingRequest,
  DevTokenResponse,
  Envelope,
  MediaConfig,
  MediaSession,
  Meeting,
  Participant,
} from '../../shared/protocol/http.js';
import { CallError, ClientErrorCode } from './errors.js';

export interface RequestOptions {
  method?: 'GET' | 'POST';
  token?: string;
  body?: unknown;
  signal?: AbortSignal;
}

function isEnvelope(value: unknown): value is Envelope<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number';
}

/** Calls one endpoint and unwraps the envelope. */
export async function requestEnvelope<T>(baseUrl: string, path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (method === 'POST') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body ?? {});
  }

  let response: Response;
  try {
    response = await fetch(joinUrl(baseUrl, path), {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    throw new CallError(ClientErrorCode.Network, `Could not reach ${path}`, { cause: error });
  }

  let payload: unknown;
  try {
    payload = await response.json();
  } catch (error) {
    throw new CallError(ClientErrorCode.Network, `${path} answered HTTP ${response.status} without a JSON envelope`, {
      httpStatus: response.status,
      cause: error,
    });
  }
  if (!isEnvelope(payload)) {
    throw new CallError(ClientErrorCode.Network, `${path} answered HTTP ${response.status} without a JSON envelope`, {
      httpStatus: response.status,
    });
  }
  if (payload.code !== 0 || !response.ok) {
    throw new CallError(payload.code || ClientErrorCode.Network, payload.message || `HTTP ${response.status}`, {
      httpStatus: response.status,
    });
  }
  return payload.data as T;
}

function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}

function meetingPath(meetingId: string, suffix = ''): string {
  return `/api/meetings/${encodeURIComponent(meetingId)}${suffix}`;
}

export function getMediaConfig(baseUrl: string, token: string, meetingId: string): Promise<MediaConfig> {
  return requestEnvelope<MediaConfig>(baseUrl, meetingPath(meetingId, '/media-config'), { token });
}

export function createMediaSession(baseUrl: string, token: string, meetingId: string): Promise<MediaSession> {
  return requestEnvelope<MediaSession>(baseUrl, meetingPath(meetingId, '/media-session'), { method: 'POST', token });
}

/** The small control-plane client the demo page uses. */
export interface Api {
  devToken(nickname: string, userId?: string): Promise<DevTokenResponse>;
  createMeeting(request?: CreateMeetingRequest): Promise<Meeting>;
  getMeeting(meetingId: string): Promise<Meeting>;
  /** REQ-002 join: records the caller as a participant (required before media-session). */
  joinMeeting(meetingId: string): Promise<Participant>;
  leaveMeeting(meetingId: string): Promise<unknown>;
  /** host only */
  endMeeting(meetingId: string): Promise<Meeting>;
  mediaConfig(meetingId: string): Promise<MediaConfig>;
  mediaSession(meetingId: string): Promise<MediaSession>;
}

/** `token` may be omitted for devToken; a later `withToken` gives a signed-in client. */
export function api(baseUrl: string, token?: string): Api & { withToken(token: string): Api } {
  const authed = (): string => {
    if (!token) throw new CallError(40101, 'Not signed in');
    return token;
  };
  return {
    devToken: (nickname, userId) =>
      requestEnvelope<DevTokenResponse>(baseUrl, '/api/dev/token', {
        method: 'POST',
        body: userId ? { nickname, userId } : { nickname },
      }),
    createMeeting: async (request = {}) =>
      requestEnvelope<Meeting>(baseUrl, '/api/meetings', { method: 'POST', token: authed(), body: request }),
    getMeeting: async (meetingId) => requestEnvelope<Meeting>(baseUrl, meetingPath(meetingId), { token: authed() }),
    joinMeeting: async (meetingId) =>
      requestEnvelope<Participant>(baseUrl, meetingPath(meetingId, '/join'), { method: 'POST', token: authed() }),
    leaveMeeting: async (meetingId) =>
      requestEnvelope<unknown>(baseUrl, meetingPath(meetingId, '/leave'), { method: 'POST', token: authed() }),
    endMeeting: async (meetingId) =>
      requestEnvelope<Meeting>(baseUrl, meetingPath(meetingId, '/end'), { method: 'POST', token: authed() }),
    mediaConfig: async (meetingId) => getMediaConfig(baseUrl, authed(), meetingId),
    mediaSession: async (meetingId) => createMediaSession(baseUrl, authed(), meetingId),
    withToken: (next) => api(baseUrl, next),
  };
}
