// REQ-001 access tokens: verified with a pinned algorithm, issuer and
// audience, either against a JWKS URL (production) or an HS256 secret (local).
// The dev token issuer signs such tokens locally (DEV_MODE only).
import { createRemoteJWKSet } from 'jose';
import type { Clock } from '../shared/clock.js';
import {
  type AccessTokenClaims,
  type SigningAlgorithm,
  signToken,
  type VerifyingKey,
  verifyToken,
} from '../shared/tokens.js';

export interface AccessTokenVerifier {
  /** throws AppError 40101 for anything but a valid access token */
  verify(token: string): Promise<AccessTokenClaims>;
}

export type AccessTokenKey = { kind: 'hs256'; secret: string } | { kind: 'jwks'; url: string };

export interface AccessTokenVerifierOptions {
  key: AccessTokenKey;
  issuer: string;
  audience: string;
  clock: Clock;
  clockToleranceSeconds?: number;
}

const JWKS_ALGORITHMS: SigningAlgorithm[] = ['RS256', 'ES256'];

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  let key: VerifyingKey;
  let algorithms: SigningAlgorithm[];
  if (options.key.kind === 'hs256') {
    key = new TextEncoder().encode(options.key.secret);
    algorithms = ['HS256'];
  } else {
    // jose caches the key set and refetches on an unknown `kid` (with a cooldown)
    key = createRemoteJWKSet(new URL(options.key.url), { timeoutDuration: 3000, cooldownDuration: 30_000 });
    algorithms = JWKS_ALGORITHMS;
  }
  return {
    verify: (token) =>
      verifyToken('access', token, {
        key,
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        nowMs: options.clock.now(),
        clockToleranceSeconds: options.clockToleranceSeconds ?? 5,
      }),
  };
}

export interface DevToken {
  accessToken: string;
  expiresAt: string;
}

export interface DevTokenIssuer {
  issue(userId: string, nickname: string): Promise<DevToken>;
}

export interface DevTokenIssuerOptions {
  secret: string;
  issuer: string;
  audience: string;
  clock: Clock;
  ttlSeconds?: number;
}

/** Stands in for REQ-001 locally: HS256 access tokens with the verifier's secret. */
export function createDevTokenIssuer(options: DevTokenIssuerOptions): DevTokenIssuer {
  const key = new TextEncoder().encode(options.secret);
  const ttlSeconds = options.ttlSeconds ?? 12 * 3600;
  return {
    issue: async (userId, nickname) => {
      const nowMs = options.clock.now();
      const accessToken = await signToken(
        'access',
        { sub: userId, name: nickname },
        { key, alg: 'HS256', issuer: options.issuer, audience: options.audience, expiresInSeconds: ttlSeconds, nowMs },
      );
      return { accessToken, expiresAt: new Date((Math.floor(nowMs / 1000) + ttlSeconds) * 1000).toISOString() };
    },
  };
}
