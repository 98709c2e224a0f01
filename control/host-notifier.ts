// Tells the media host serving a meeting that it has ended, so every peer
// gets rtc:meetingEnded. Each attempt carries a fresh short-lived service
// token (ES256, aud = the host's id, meetingId = the meeting in the path, new
// jti): the host treats service tokens as single use, so a retry must never
// resend one. Network errors, timeouts, 5xx, 408 and 429 are retried with
// backoff; other answers are final.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { type EndMeetingNotice, endMeetingPath } from '../shared/protocol/http.js';
import { type SigningKey, signToken } from '../shared/tokens.js';

export interface NotifiedHost {
  hostId: string;
  adminUrl: string;
}

export interface NotifyResult {
  delivered: boolean;
  attempts: number;
  status?: number;
  peersNotified?: number;
}

export interface MediaHostNotifier {
  /** never throws: failures are logged and reported in the result */
  notifyMeetingEnded(host: NotifiedHost, meetingId: string, notice: EndMeetingNotice): Promise<NotifyResult>;
}

export interface MediaHostNotifierOptions {
  signingKey: SigningKey;
  issuer: string;
  clock: Clock;
  logger: Logger;
  fetch?: typeof fetch;
  maxAttempts?: number;
  attemptTimeoutMs?: number;
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const SERVICE_TOKEN_TTL_SECONDS = 30;

function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function createMediaHostNotifier(options: MediaHostNotifierOptions): MediaHostNotifier {
  const doFetch = options.fetch ?? fetch;
  const maxAttempts = options.maxAttempts ?? 3;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 2000;
  const backoffMs = options.backoffMs ?? 200;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const logger = options.logger;

  return {
    async notifyMeetingEnded(host, meetingId, notice) {
      const url = new URL(endMeetingPath(meetingId), host.adminUrl).toString();
      let status: number | undefined;
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2));
        try {
          // minted per attempt: a timed-out attempt may still have reached the host and used its jti
          const token = await signToken(
            'service',
            { sub: 'control-plane', scope: 'meetings:end', meetingId, jti: randomUUID() },
            {
              key: options.signingKey,
              alg: 'ES256',
              issuer: options.issuer,
              audience: host.hostId,
              expiresInSeconds: SERVICE_TOKEN_TTL_SECONDS,
              nowMs: options.clock.now(),
            },
          );
          const response = await doFetch(url, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(notice),
            signal: AbortSignal.timeout(attemptTimeoutMs),
          });
          status = response.status;
          const body = (await response.json().catch(() => undefined)) as
            | { code?: number; data?: { peersNotified?: number } | null }
            | undefined;
          if (response.ok) {
            const peersNotified = body?.data?.peersNotified;
            logger.info('media host notified of meeting end', {
              meetingId,
              hostId: host.hostId,
              attempt,
              peersNotified,
            });
            return { delivered: true, attempts: attempt, status, peersNotified };
          }
          logger.warn('media host refused meeting end notice', {
            meetingId,
            hostId: host.hostId,
            attempt,
            status,
            code: body?.code,
          });
          if (!retryable(status)) return { delivered: false, attempts: attempt, status };
        } catch (error) {
          logger.warn('media host meeting end notice failed', { meetingId, hostId: host.hostId, attempt, error });
        }
      }
      logger.error('giving up notifying media host of meeting end', { meetingId, hostId: host.hostId, maxAttempts });
      return { delivered: false, attempts: maxAttempts, status };
    },
  };
}
