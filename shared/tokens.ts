// The three kinds of JWT in the system, with typed claims. Each kind has its
// own `typ` header and claim schema, and verification pins the kind, so a
// token of one kind is never accepted as another.
//   access      REQ-001's user access token (control plane verifies it)
//   media-join  control plane -> media host: one-time, <= 60 s, bound to host/meeting/user
//   service     control plane -> media host admin calls (ending a meeting)
import { type CryptoKey, type JWTVerifyGetKey, errors as joseErrors, jwtVerify, type KeyObject, SignJWT } from 'jose';
import * as z from 'zod';
import { AppError, ErrorCode } from './errors.js';

export type TokenKind = 'access' | 'media-join' | 'service';

/** JWT `typ` header per kind (RFC 9068 style for access tokens). */
export const TOKEN_TYPE_HEADER: Record<TokenKind, string> = {
  access: 'at+jwt',
  'media-join': 'media-join+jwt',
  service: 'service+jwt',
};

const registered = {
  iss: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  exp: z.number(),
  iat: z.number().optional(),
  nbf: z.number().optional(),
};

export const tokenClaimSchemas = {
  access: z.object({
    ...registered,
    sub: z.string().min(1).max(128),
    /** the user's display name (REQ-001 nickname) */
    name: z.string().max(64).optional(),
  }),
  'media-join': z.object({
    ...registered,
    sub: z.string().min(1).max(128),
    nickname: z.string().min(1).max(64),
    meetingId: z.string().min(1).max(128),
    jti: z.string().min(8).max(128),
  }),
  service: z.object({
    ...registered,
    sub: z.string().min(1).max(128),
    scope: z.literal('meetings:end'),
    jti: z.string().min(8).max(128),
    /** when present, the token may only end this meeting */
    meetingId: z.string().min(1).max(128).optional(),
  }),
} as const;

export type TokenClaims<K extends TokenKind> = z.infer<(typeof tokenClaimSchemas)[K]>;
export type AccessTokenClaims = TokenClaims<'access'>;
export type MediaJoinTokenClaims = TokenClaims<'media-join'>;
export type ServiceTokenClaims = TokenClaims<'service'>;

/** Claims the caller sets; the registered time claims are filled in by signToken. */
export type TokenBody<K extends TokenKind> = Omit<TokenClaims<K>, 'iss' | 'aud' | 'exp' | 'iat' | 'nbf'>;

export type SigningKey = CryptoKey | KeyObject | Uint8Array;
export type VerifyingKey = CryptoKey | KeyObject | Uint8Array | JWTVerifyGetKey;

export type SigningAlgorithm = 'HS256' | 'ES256' | 'RS256';

export interface SignOptions {
  key: SigningKey;
  alg: SigningAlgorithm;
  issuer: string;
  audience: string;
  expiresInSeconds: number;
  /** the clock's "now", in milliseconds since the epoch */
  nowMs: number;
  kid?: string;
}

export async function signToken<K extends TokenKind>(
  kind: K,
  body: TokenBody<K>,
  options: SignOptions,
): Promise<string> {
  const nowSeconds = Math.floor(options.nowMs / 1000);
  return new SignJWT({ ...body })
    .setProtectedHeader({
      alg: options.alg,
      typ: TOKEN_TYPE_HEADER[kind],
      ...(options.kid ? { kid: options.kid } : {}),
    })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + options.expiresInSeconds)
    .sign(options.key);
}

export interface VerifyOptions {
  key: VerifyingKey;
  algorithms: SigningAlgorithm[];
  issuer: string;
  audience: string;
  /** the clock's "now", in milliseconds since the epoch */
  nowMs: number;
  clockToleranceSeconds?: number;
  /** reject tokens whose lifetime (exp - iat, or exp - now) is longer than this */
  maxLifetimeSeconds?: number;
}

/**
 * Verifies signature, algorithm, `typ`, issuer, audience, exp/nbf, then the
 * kind's claim schema. Every failure is an AppError 40101 whose message says
 * what was wrong but never echoes the token.
 */
export async function verifyToken<K extends TokenKind>(
  kind: K,
  token: string,
  options: VerifyOptions,
): Promise<TokenClaims<K>> {
  let payload: unknown;
  try {
    const verified = await jwtVerify(token, options.key as Parameters<typeof jwtVerify>[1], {
      algorithms: options.algorithms,
      issuer: options.issuer,
      audience: options.audience,
      typ: TOKEN_TYPE_HEADER[kind],
      requiredClaims: ['exp'],
      currentDate: new Date(options.nowMs),
      clockTolerance: options.clockToleranceSeconds ?? 5,
    });
    payload = verified.payload;
  } catch (error) {
    throw new AppError(ErrorCode.Unauthorized, describeJoseError(error), { cause: error });
  }
  const parsed = tokenClaimSchemas[kind].safeParse(payload);
  if (!parsed.success) {
    throw new AppError(ErrorCode.Unauthorized, `Token is not a valid ${kind} token`);
  }
  const claims = parsed.data as TokenClaims<K>;
  if (options.maxLifetimeSeconds !== undefined) {
    const from = claims.iat ?? Math.floor(options.nowMs / 1000);
    if (claims.exp - from > options.maxLifetimeSeconds) {
      throw new AppError(ErrorCode.Unauthorized, 'Token lifetime is too long');
    }
  }
  return claims;
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'Token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `Token claim "${error.claim}" is invalid`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'Token algorithm is not allowed';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'Token signature is invalid';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'Token signing key is unknown';
  return 'Token is malformed or invalid';
}
