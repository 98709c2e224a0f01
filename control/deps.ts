// Builds createApp's deps from configuration and secrets. Shared by the two
// entry points (lambda.ts, local.ts), so they stay thin.
import { createPrivateKey } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { ControlDeps } from './app.js';
import { createAccessTokenVerifier, createDevTokenIssuer } from './auth.js';
import type { ControlConfig } from './config.js';
import { createMediaHostNotifier } from './host-notifier.js';
import { createDynamoControlStore } from './store/control-store.js';
import { createDocumentClient } from './store/dynamo-client.js';
import type { ControlSecrets } from './store/secrets.js';

export interface BuildDepsOptions {
  clock: Clock;
  logger: Logger;
  fetch?: typeof fetch;
}

export function buildControlDeps(
  config: ControlConfig,
  secrets: ControlSecrets,
  options: BuildDepsOptions,
): ControlDeps {
  const { clock, logger } = options;
  const signingKey = createPrivateKey({ key: secrets.mediaSigningKeyPem, format: 'pem' });
  if (signingKey.asymmetricKeyType !== 'ec' || signingKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('MEDIA_SIGNING_KEY must be a P-256 (ES256) private key');
  }
  const client = createDocumentClient({ region: config.region, endpoint: config.dynamoEndpoint });
  const source = config.accessToken.source;
  return {
    store: createDynamoControlStore({ client, tables: config.tables }),
    clock,
    logger,
    auth: createAccessTokenVerifier({
      key: source,
      issuer: config.accessToken.issuer,
      audience: config.accessToken.audience,
      clock,
    }),
    mediaTokens: { signingKey, issuer: config.controlIssuer },
    turn: {
      secret: secrets.turnSecret,
      urls: config.turnUrls,
      stunUrls: config.stunUrls,
      ttlSeconds: config.turnTtlSeconds,
    },
    hostNotifier: createMediaHostNotifier({
      signingKey,
      issuer: config.controlIssuer,
      clock,
      logger: logger.child('host-notifier'),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    }),
    devMode: config.devMode,
    ...(config.devMode && source.kind === 'hs256'
      ? {
          devTokenIssuer: createDevTokenIssuer({
            secret: source.secret,
            issuer: config.accessToken.issuer,
            audience: config.accessToken.audience,
            clock,
          }),
        }
      : {}),
    webOrigins: config.webOrigins,
    hostStaleAfterMs: config.hostStaleAfterMs,
  };
}
