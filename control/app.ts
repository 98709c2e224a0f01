// The control plane: one Hono app behind API Gateway (lambda.ts) or
// @hono/node-server (local.ts). Everything it touches comes in through deps.
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import * as z from 'zod';
import type { Clock } from '../shared/clock.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import {
  createMeetingRequestSchema,
  type DevTokenResponse,
  devTokenRequestSchema,
  type MediaConfig,
  type MediaSession,
  type Meeting,
  meetingIdSchema,
  nicknameSchema,
  type Participant,
  SIGNALLING_PATH,
  SIGNALLING_TOKEN_PARAM,
} from '../shared/protocol/http.js';
import type { MeetingItem, ParticipantItem } from '../shared/tables.js';
import { type SigningKey, signToken } from '../shared/tokens.js';
import type { AccessTokenVerifier, DevTokenIssuer } from './auth.js';
import type { MediaHostNotifier } from './host-notifier.js';
import {
  accessLogMiddleware,
  authMiddleware,
  type ControlEnv,
  createErrorHandler,
  notFoundHandler,
  ok,
  parseWith,
  readJsonBody,
  requestIdMiddleware,
} from './middleware.js';
import { createPlacementService, type PlacementOptions } from './placement.js';
import type { ControlStore } from './store/control-store.js';
import { iceServersFor, type TurnSettings } from './turn.js';

export interface ControlDeps {
  store: ControlStore;
  clock: Clock;
  logger: Logger;
  auth: AccessTokenVerifier;
  /** ES256 private key for media-join and service tokens, and their issuer */
  mediaTokens: { signingKey: SigningKey; issuer: string };
  turn: TurnSettings;
  hostNotifier: MediaHostNotifier;
  devMode: boolean;
  devTokenIssuer?: DevTokenIssuer;
  /** CORS allow-list; empty = no CORS headers */
  webOrigins: string[];
  hostStaleAfterMs: number;
  idGenerator?: () => string;
  /** placement tuning (retries, jitter) */
  placement?: Pick<PlacementOptions, 'maxAttempts' | 'sleep' | 'random'>;
}

/** Media-join tokens live at most this long (the host enforces <= 60 s). */
export const MEDIA_JOIN_TOKEN_TTL_SECONDS = 60;
const MAX_BODY_BYTES = 16 * 1024;

const joinMeetingRequestSchema = z.object({ nickname: nicknameSchema.optional() });

function toMeeting(item: MeetingItem): Meeting {
  return {
    meetingId: item.meetingId,
    title: item.title,
    status: item.status,
    hostUserId: item.hostUserId,
    createdAt: item.createdAt,
    ...(item.endedAt ? { endedAt: item.endedAt } : {}),
    ...(item.endedBy ? { endedBy: item.endedBy } : {}),
  };
}

function toParticipant(item: ParticipantItem): Participant {
  return {
    meetingId: item.meeting_id,
    userId: item.user_id,
    nickname: item.nickname,
    joinedAt: item.joined_at,
    ...(item.left_at ? { leftAt: item.left_at } : {}),
  };
}

export function createApp(deps: ControlDeps): Hono<ControlEnv> {
  const { store, clock, hostStaleAfterMs } = deps;
  const logger = deps.logger.child('http');
  const newId = deps.idGenerator ?? randomUUID;
  const placement = createPlacementService({
    store,
    clock,
    logger: deps.logger.child('placement'),
    hostStaleAfterMs,
    ...deps.placement,
  });

  const app = new Hono<ControlEnv>();
  app.onError(createErrorHandler(logger));
  app.notFound(notFoundHandler);
  app.use('*', requestIdMiddleware(newId));
  app.use(
    '*',
    accessLogMiddleware(logger, () => performance.now()),
  );
  if (deps.webOrigins.length > 0) {
    app.use(
      '/api/*',
      cors({
        origin: deps.webOrigins,
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ['authorization', 'content-type', 'x-request-id'],
        exposeHeaders: ['x-request-id'],
        maxAge: 600,
      }),
    );
  }
  app.use(
    '/api/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new AppError(ErrorCode.BadRequest, 'Request body is too large');
      },
    }),
  );

  app.get('/healthz', (c) => ok(c, { status: 'ok' }));

  if (deps.devMode && deps.devTokenIssuer) {
    const issuer = deps.devTokenIssuer;
    app.post('/api/dev/token', async (c) => {
      const body = await readJsonBody(c, devTokenRequestSchema);
      const userId = body.userId ?? newId();
      const token = await issuer.issue(userId, body.nickname);
      const data: DevTokenResponse = { ...token, userId, nickname: body.nickname };
      return ok(c, data);
    });
  }

  app.use('/api/meetings', authMiddleware(deps.auth));
  app.use('/api/meetings/*', authMiddleware(deps.auth));

  const meetingIdParam = (value: string | undefined) => parseWith(meetingIdSchema, value);

  async function requireMeeting(meetingId: string): Promise<MeetingItem> {
    const meeting = await store.getMeeting(meetingId);
    if (!meeting) throw new AppError(ErrorCode.MeetingNotFound);
    return meeting;
  }

  /**
   * 40401, then 41001, then 40301 for a caller who never joined or has left.
   * Strongly consistent: a client calls this right after POST /join, and the
   * meeting read here is placement's fast path (an eventually consistent read
   * could miss the join or return a host the meeting has since moved off).
   */
  async function requireActiveParticipant(meetingId: string, userId: string) {
    const [meeting, participant] = await Promise.all([
      store.getMeeting(meetingId, { consistent: true }),
      store.getParticipant(meetingId, userId, { consistent: true }),
    ]);
    if (!meeting) throw new AppError(ErrorCode.MeetingNotFound);
    if (meeting.status === 'ENDED') throw new AppError(ErrorCode.MeetingGone);
    if (!participant || participant.left_at) {
      throw new AppError(ErrorCode.Forbidden, 'Join the meeting before starting media');
    }
    return { meeting, participant };
  }

  app.post('/api/meetings', async (c) => {
    const body = await readJsonBody(c, createMeetingRequestSchema);
    const user = c.get('user');
    const meeting = {
      meetingId: newId(),
      title: body.title ?? '',
      hostUserId: user.userId,
      createdAt: new Date(clock.now()).toISOString(),
    };
    const created = await store.createMeeting(meeting);
    if (!created.ok) throw new AppError(ErrorCode.Internal, 'Meeting id collision');
    logger.info('meeting created', { requestId: c.get('requestId'), meetingId: meeting.meetingId });
    const data: Meeting = { ...meeting, status: 'ACTIVE' };
    return ok(c, data, 201);
  });

  app.get('/api/meetings/:meetingId', async (c) => {
    const meeting = await requireMeeting(meetingIdParam(c.req.param('meetingId')));
    return ok(c, toMeeting(meeting));
  });

  app.post('/api/meetings/:meetingId/join', async (c) => {
    const meetingId = meetingIdParam(c.req.param('meetingId'));
    const body = await readJsonBody(c, joinMeetingRequestSchema);
    const user = c.get('user');
    const nickname = body.nickname ?? user.name ?? user.userId.slice(0, 64);
    const joinedAt = new Date(clock.now()).toISOString();
    const joined = await store.joinMeeting({ meetingId, userId: user.userId, nickname, joinedAt });
    if (!joined.ok) {
      const meeting = await store.getMeeting(meetingId);
      throw new AppError(meeting ? ErrorCode.MeetingGone : ErrorCode.MeetingNotFound);
    }
    const data: Participant = { meetingId, userId: user.userId, nickname, joinedAt };
    return ok(c, data);
  });

  app.post('/api/meetings/:meetingId/leave', async (c) => {
    const meetingId = meetingIdParam(c.req.param('meetingId'));
    const user = c.get('user');
    await requireMeeting(meetingId);
    const left = await store.markParticipantLeft(meetingId, user.userId, new Date(clock.now()).toISOString());
    const participant = await store.getParticipant(meetingId, user.userId, { consistent: true });
    // leaving twice is harmless; never having joined is not
    if (!participant) throw new AppError(ErrorCode.Forbidden, 'Not a participant of this meeting');
    if (!left.ok && !participant.left_at) throw new AppError(ErrorCode.Internal, 'Leave did not stick');
    return ok(c, toParticipant(participant));
  });

  app.post('/api/meetings/:meetingId/end', async (c) => {
    const meetingId = meetingIdParam(c.req.param('meetingId'));
    const user = c.get('user');
    const meeting = await requireMeeting(meetingId);
    if (meeting.hostUserId !== user.userId) {
      throw new AppError(ErrorCode.Forbidden, 'Only the meeting host can end the meeting');
    }
    if (meeting.status === 'ENDED') throw new AppError(ErrorCode.MeetingGone);
    const endedAt = new Date(clock.now()).toISOString();
    const ended = await store.endMeeting(meetingId, user.userId, endedAt);
    if (!ended.ok) throw new AppError(ErrorCode.MeetingGone);
    // the host as of the end write: a placement racing the end is either
    // visible here or refused (assignment requires an ACTIVE meeting)
    const mediaHostId = ended.meeting.mediaHostId;
    logger.info('meeting ended', { requestId: c.get('requestId'), meetingId, mediaHostId });

    if (mediaHostId) {
      // awaited (bounded retries) so a Lambda does not freeze mid-notice;
      // a failed notice is logged by the notifier and does not fail the reply
      const host = await store.getHost(mediaHostId);
      if (host) {
        await deps.hostNotifier.notifyMeetingEnded(host, meetingId, { endedBy: user.userId, endedAt });
      } else {
        logger.warn('assigned media host is gone; nothing to notify', { meetingId, hostId: mediaHostId });
      }
    }
    return ok(c, toMeeting(ended.meeting));
  });

  app.get('/api/meetings/:meetingId/media-config', async (c) => {
    const meetingId = meetingIdParam(c.req.param('meetingId'));
    const user = c.get('user');
    await requireActiveParticipant(meetingId, user.userId);
    const data: MediaConfig = { iceServers: iceServersFor(deps.turn, user.userId, clock.now()) };
    return ok(c, data);
  });

  app.post('/api/meetings/:meetingId/media-session', async (c) => {
    const meetingId = meetingIdParam(c.req.param('meetingId'));
    const user = c.get('user');
    const { meeting, participant } = await requireActiveParticipant(meetingId, user.userId);
    const { host } = await placement.placeMeeting(meetingId, meeting);

    const nowMs = clock.now();
    const token = await signToken(
      'media-join',
      { sub: user.userId, nickname: participant.nickname, meetingId, jti: randomUUID() },
      {
        key: deps.mediaTokens.signingKey,
        alg: 'ES256',
        issuer: deps.mediaTokens.issuer,
        audience: host.hostId,
        expiresInSeconds: MEDIA_JOIN_TOKEN_TTL_SECONDS,
        nowMs,
      },
    );
    const data: MediaSession = {
      signalingUrl: `${host.signalingUrl.replace(/\/+$/, '')}${SIGNALLING_PATH}?${SIGNALLING_TOKEN_PARAM}=${token}`,
      hostId: host.hostId,
      expiresAt: new Date((Math.floor(nowMs / 1000) + MEDIA_JOIN_TOKEN_TTL_SECONDS) * 1000).toISOString(),
      iceServers: iceServersFor(deps.turn, user.userId, nowMs),
    };
    return ok(c, data);
  });

  return app;
}
