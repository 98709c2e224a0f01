// AWS Lambda entry point (API Gateway HTTP API, payload v2). Configuration
// and secrets are loaded on the first invocation (cold start), not at import.
// The dev token route exists only when DEV_MODE=1.
import { type APIGatewayProxyResult, handle, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda';
import { type Clock, systemClock } from '../shared/clock.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { createApp } from './app.js';
import { type Env, loadControlConfig } from './config.js';
import { buildControlDeps } from './deps.js';
import { loadControlSecrets, type SecretFetcher } from './store/secrets.js';

export type LambdaHandler = (event: LambdaEvent, context?: LambdaContext) => Promise<APIGatewayProxyResult>;

export interface LambdaHandlerOptions {
  clock?: Clock;
  logger?: Logger;
  fetchSecret?: SecretFetcher;
  fetch?: typeof fetch;
}

export function createLambdaHandler(env: Env, options: LambdaHandlerOptions = {}): LambdaHandler {
  let ready: Promise<LambdaHandler> | undefined;

  const init = async (): Promise<LambdaHandler> => {
    const config = loadControlConfig(env);
    const logger = options.logger ?? createLogger('control', { level: config.logLevel });
    const secrets = await loadControlSecrets(config, options.fetchSecret);
    const deps = buildControlDeps(config, secrets, {
      clock: options.clock ?? systemClock,
      logger,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    logger.info('control plane initialised', { devMode: config.devMode, region: config.region });
    return handle(createApp(deps)) as LambdaHandler;
  };

  return async (event, context) => {
    ready ??= init().catch((error: unknown) => {
      ready = undefined; // let the next invocation retry a failed cold start
      throw error;
    });
    const handleEvent = await ready;
    return handleEvent(event, context);
  };
}

let defaultHandler: LambdaHandler | undefined;

export const handler: LambdaHandler = (event, context) => {
  defaultHandler ??= createLambdaHandler(process.env);
  return defaultHandler(event, context);
};
