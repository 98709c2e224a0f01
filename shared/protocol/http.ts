// HTTP API shapes of the control plane (and the media host's admin endpoint),
// defined once for the server, the SDK and the tests.
import * as z from 'zod';

/** Every JSON reply: `code` is 0 on success, a registry code otherwise. */
export interface Envelope<T> {
  code: number;
  message: string;
  data: T | null;
}

export const nicknameSchema = z.string().trim().min(1).max(64);
export const userIdSchema = z.string().min(1).max(128);
export const meetingIdSchema = z.string().min(1).max(128);

export const devTokenRequestSchema = z.object({
  userId: userIdSchema.optional(),
  nickname: nicknameSchema,
});
export type DevTokenRequest = z.infer<typeof devTokenRequestSchema>;
export interface DevTokenResponse {
  accessToken: string;
  userId: string;
  nickname: string;
  expiresAt: string;
}

export const createMeetingRequestSchema = z.object({
  title: z.string().trim().max(200).optional(),
});
export type CreateMeetingRequest = z.infer<typeof createMeetingRequestSchema>;

export const meetingStatusSchema = z.enum(['ACTIVE', 'ENDED']);
export type MeetingStatus = z.infer<typeof meetingStatusSchema>;

export interface Meeting {
  meetingId: string;
  title: string;
  status: MeetingStatus;
  hostUserId: string;
  createdAt: string;
  endedAt?: string;
  endedBy?: string;
}

export interface Participant {
  meetingId: string;
  userId: string;
  nickname: string;
  joinedAt: string;
  leftAt?: string;
}

/** RTCIceServer as the browser takes it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface MediaConfig {
  iceServers: IceServer[];
}

export interface MediaSession {
  /** the assigned media host's ws(s):// URL, carrying a one-time join token */
  signalingUrl: string;
  hostId: string;
  /** when the join token in signalingUrl expires (ISO 8601) */
  expiresAt: string;
  iceServers: IceServer[];
}

/** Body of the media host's `POST /admin/meetings/:meetingId/end` (service token auth). */
export const endMeetingNoticeSchema = z.object({
  endedBy: z.string().min(1).max(128),
  endedAt: z.string().min(1).max(64),
});
export type EndMeetingNotice = z.infer<typeof endMeetingNoticeSchema>;

/** Path of the media host's admin endpoint that ends a meeting. */
export function endMeetingPath(meetingId: string): string {
  return `/admin/meetings/${encodeURIComponent(meetingId)}/end`;
}

/** Path on the media host that takes WebSocket upgrades. */
export const SIGNALLING_PATH = '/ws';
/** Query parameter of the signalling URL that carries the join token. */
export const SIGNALLING_TOKEN_PARAM = 'token';
/**
 * WebSocket subprotocol a client may offer together with the join token
 * (`new WebSocket(url, [SIGNALLING_SUBPROTOCOL, token])`) instead of `?token=`.
 */
export const SIGNALLING_SUBPROTOCOL = 'rtc-signalling';
