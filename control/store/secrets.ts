// Secret material the control plane needs at cold start: the ES256 key that
// signs media-host tokens and the TURN REST secret. Direct values
// (MEDIA_SIGNING_KEY, TURN_SECRET) win; otherwise *_SECRET_ARN values are
// read through the AWS Parameters and Secrets Lambda Extension, which infra
// attaches to the function: a local HTTP call, so no Secrets Manager SDK
// (not installed) and no request signing are needed.
//
// TODO(secrets-manager): outside Lambda (or without the extension layer) an
// ARN cannot be resolved yet; that needs @aws-sdk/client-secrets-manager.
import type { ControlConfig } from '../config.js';

export interface ControlSecrets {
  /** PKCS8 PEM, ES256 */
  mediaSigningKeyPem: string;
  turnSecret: string;
}

export class SecretsUnavailableError extends Error {
  constructor(arn: string, reason: string) {
    super(`Cannot load secret ${arn}: ${reason}`);
    this.name = 'SecretsUnavailableError';
  }
}

export type SecretFetcher = (arn: string) => Promise<string>;

/** Without the Lambda extension there is no way to resolve an ARN yet. */
export const unavailableSecretFetcher: SecretFetcher = async (arn) => {
  throw new SecretsUnavailableError(
    arn,
    'no AWS Parameters and Secrets Lambda Extension here and no Secrets Manager SDK (TODO(secrets-manager)); set MEDIA_SIGNING_KEY / TURN_SECRET directly',
  );
};

export interface ExtensionSecretFetcherOptions {
  port: number;
  /** the function's AWS_SESSION_TOKEN, which the extension requires */
  sessionToken: string;
  fetch?: typeof fetch;
  /** the extension can still be starting during a cold start */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** GET http://localhost:<port>/secretsmanager/get?secretId=<arn>, answering GetSecretValue's JSON. */
export function createExtensionSecretFetcher(options: ExtensionSecretFetcherOptions): SecretFetcher {
  const doFetch = options.fetch ?? fetch;
  const maxAttempts = options.maxAttempts ?? 4;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return async (arn) => {
    const url = `http://localhost:${options.port}/secretsmanager/get?secretId=${encodeURIComponent(arn)}`;
    let reason = 'no attempt made';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(50 * 2 ** (attempt - 2));
      try {
        const response = await doFetch(url, {
          headers: { 'X-Aws-Parameters-Secrets-Token': options.sessionToken },
          signal: AbortSignal.timeout(2000),
        });
        if (response.ok) {
          const body = (await response.json()) as { SecretString?: unknown };
          if (typeof body.SecretString === 'string' && body.SecretString !== '') return body.SecretString;
          throw new SecretsUnavailableError(arn, 'the secret has no SecretString');
        }
        reason = `extension answered HTTP ${response.status}`;
        // 4xx other than "not ready yet" will not get better
        if (response.status < 500 && response.status !== 400 && response.status !== 429) break;
      } catch (error) {
        if (error instanceof SecretsUnavailableError) throw error;
        reason = `extension unreachable (${(error as Error).message})`;
      }
    }
    throw new SecretsUnavailableError(arn, reason);
  };
}

type SecretSettings = Pick<
  ControlConfig,
  'mediaSigningKeyPem' | 'mediaSigningKeySecretArn' | 'turnSecret' | 'turnSecretArn' | 'secretsExtension'
>;

/** The fetcher for this environment: the Lambda extension when running in Lambda. */
export function secretFetcherFor(config: SecretSettings): SecretFetcher {
  return config.secretsExtension ? createExtensionSecretFetcher(config.secretsExtension) : unavailableSecretFetcher;
}

/** Direct values win; otherwise each *_SECRET_ARN is fetched (in parallel). */
export async function loadControlSecrets(
  config: SecretSettings,
  fetchSecret: SecretFetcher = secretFetcherFor(config),
): Promise<ControlSecrets> {
  const resolve = async (value: string | undefined, arn: string | undefined, name: string): Promise<string> => {
    if (value) return value;
    if (arn) return fetchSecret(arn);
    throw new Error(`${name} is not configured`);
  };
  const [mediaSigningKeyPem, turnSecret] = await Promise.all([
    resolve(config.mediaSigningKeyPem, config.mediaSigningKeySecretArn, 'MEDIA_SIGNING_KEY'),
    resolve(config.turnSecret, config.turnSecretArn, 'TURN_SECRET'),
  ]);
  return { mediaSigningKeyPem, turnSecret };
}
