// Control-plane configuration from environment variables. Only entry points
// (lambda.ts, local.ts) call this; nothing reads process.env at module load.
import type { LogLevel } from '../shared/logger.js';
import type { TableNames } from '../shared/tables.js';

export type Env = Record<string, string | undefined>;

export type AccessTokenSource = { kind: 'hs256'; secret: string } | { kind: 'jwks'; url: string };

export interface ControlConfig {
  port: number;
  region: string;
  dynamoEndpoint?: string;
  tables: TableNames;
  devMode: boolean;
  accessToken: { source: AccessTokenSource; issuer: string; audience: string };
  /** PKCS8 PEM (ES256) of the key that signs media-join and service tokens */
  mediaSigningKeyPem?: string;
  mediaSigningKeySecretArn?: string;
  turnSecret?: string;
  turnSecretArn?: string;
  turnUrls: string[];
  stunUrls: string[];
  turnTtlSeconds: number;
  controlIssuer: string;
  webOrigins: string[];
  hostStaleAfterMs: number;
  /**
   * AWS Parameters and Secrets Lambda Extension, which serves the *_SECRET_ARN
   * values in Lambda (present when AWS_SESSION_TOKEN is set)
   */
  secretsExtension?: { port: number; sessionToken: string };
  /** local.ts only: folder served at `/` (demo page) */
  staticDir?: string;
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid control-plane configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

export function loadControlConfig(env: Env): ControlConfig {
  const problems: string[] = [];

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = nonEmpty(env[name]);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer in ${min}..${max}`);
      return fallback;
    }
    return value;
  };

  const meetingsTable = nonEmpty(env.TABLE_MEETINGS);
  const hostsTable = nonEmpty(env.TABLE_HOSTS);
  if (!meetingsTable) problems.push('TABLE_MEETINGS is required');
  if (!hostsTable) problems.push('TABLE_HOSTS is required');

  const hs256Secret = nonEmpty(env.ACCESS_TOKEN_HS256_SECRET);
  const jwksUrl = nonEmpty(env.ACCESS_TOKEN_JWKS_URL);
  let source: AccessTokenSource = { kind: 'hs256', secret: '' };
  if (hs256Secret && jwksUrl) problems.push('set only one of ACCESS_TOKEN_HS256_SECRET and ACCESS_TOKEN_JWKS_URL');
  else if (jwksUrl) {
    if (!/^https?:\/\//.test(jwksUrl)) problems.push('ACCESS_TOKEN_JWKS_URL must be an http(s) URL');
    source = { kind: 'jwks', url: jwksUrl };
  } else if (hs256Secret) {
    if (hs256Secret.length < 32) problems.push('ACCESS_TOKEN_HS256_SECRET must be at least 32 characters');
    source = { kind: 'hs256', secret: hs256Secret };
  } else problems.push('ACCESS_TOKEN_HS256_SECRET or ACCESS_TOKEN_JWKS_URL is required');

  const devMode = env.DEV_MODE === '1';
  if (devMode && source.kind !== 'hs256') problems.push('DEV_MODE=1 needs ACCESS_TOKEN_HS256_SECRET');

  const mediaSigningKeyPem = nonEmpty(env.MEDIA_SIGNING_KEY)?.replace(/\\n/g, '\n');
  const mediaSigningKeySecretArn = nonEmpty(env.MEDIA_SIGNING_KEY_SECRET_ARN);
  if (!mediaSigningKeyPem && !mediaSigningKeySecretArn) {
    problems.push('MEDIA_SIGNING_KEY or MEDIA_SIGNING_KEY_SECRET_ARN is required');
  }
  const turnSecret = nonEmpty(env.TURN_SECRET);
  const turnSecretArn = nonEmpty(env.TURN_SECRET_ARN);
  if (!turnSecret && !turnSecretArn) problems.push('TURN_SECRET or TURN_SECRET_ARN is required');

  const turnUrls = list(env.TURN_URLS);
  for (const url of turnUrls) {
    if (!/^turns?:/.test(url)) problems.push(`TURN_URLS entry "${url}" must start with turn: or turns:`);
  }
  const stunUrls = list(env.STUN_URLS);
  for (const url of stunUrls) {
    if (!/^stuns?:/.test(url)) problems.push(`STUN_URLS entry "${url}" must start with stun: or stuns:`);
  }

  const logLevel = (nonEmpty(env.LOG_LEVEL) ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) problems.push('LOG_LEVEL must be debug|info|warn|error');

  const config: ControlConfig = {
    port: integer('PORT', 8080, 0, 65535),
    region: nonEmpty(env.AWS_REGION) ?? 'us-east-1',
    dynamoEndpoint: nonEmpty(env.DYNAMODB_ENDPOINT),
    tables: { meetings: meetingsTable ?? '', hosts: hostsTable ?? '' },
    devMode,
    accessToken: {
      source,
      issuer: nonEmpty(env.ACCESS_TOKEN_ISSUER) ?? 'rtc-dev-auth',
      audience: nonEmpty(env.ACCESS_TOKEN_AUDIENCE) ?? 'rtc-api',
    },
    mediaSigningKeyPem,
    mediaSigningKeySecretArn,
    turnSecret,
    turnSecretArn,
    turnUrls,
    stunUrls,
    turnTtlSeconds: integer('TURN_TTL_SECONDS', 3600, 60, 86_400),
    controlIssuer: nonEmpty(env.CONTROL_ISSUER) ?? 'rtc-control-plane',
    webOrigins: list(env.WEB_ORIGINS),
    hostStaleAfterMs: integer('HOST_STALE_AFTER_MS', 15_000, 1000, 600_000),
    ...(nonEmpty(env.AWS_SESSION_TOKEN)
      ? {
          secretsExtension: {
            port: integer('PARAMETERS_SECRETS_EXTENSION_HTTP_PORT', 2773, 1, 65535),
            sessionToken: nonEmpty(env.AWS_SESSION_TOKEN)!,
          },
        }
      : {}),
    staticDir: nonEmpty(env.STATIC_DIR),
    logLevel,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
