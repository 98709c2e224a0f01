// ICE servers for a user: STUN URLs plus TURN URLs with time-limited
// credentials in the TURN REST scheme that coturn's `use-auth-secret` checks:
// username `<expiryUnix>:<userId>`, credential base64(HMAC-SHA1(secret, username)).
import { createHmac } from 'node:crypto';
import type { IceServer } from '../shared/protocol/http.js';

export interface TurnSettings {
  secret: string;
  /** turn: / turns: URLs (udp, tcp, turns:443) */
  urls: string[];
  stunUrls: string[];
  ttlSeconds: number;
}

export interface TurnCredentials {
  username: string;
  credential: string;
  /** epoch seconds */
  expiresAt: number;
}

export function turnCredentials(secret: string, userId: string, nowMs: number, ttlSeconds: number): TurnCredentials {
  const expiresAt = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiresAt}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt };
}

export function iceServersFor(settings: TurnSettings, userId: string, nowMs: number): IceServer[] {
  const servers: IceServer[] = settings.stunUrls.map((urls) => ({ urls }));
  if (settings.urls.length > 0) {
    const { username, credential } = turnCredentials(settings.secret, userId, nowMs, settings.ttlSeconds);
    // one entry for all TURN URLs: they share the credential, and browsers slow down with many servers
    const urls = settings.urls.length === 1 ? settings.urls[0]! : [...settings.urls];
    servers.push({ urls, username, credential });
  }
  return servers;
}
