// Local entry point: the same app on @hono/node-server, plus the demo page
// from STATIC_DIR (index.html at `/` and for meeting links `/m/*`).
// Run: npx tsx control/local.ts   (or import startLocalControlPlane)
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { systemClock } from '../shared/clock.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { createApp } from './app.js';
import { type Env, loadControlConfig } from './config.js';
import { buildControlDeps } from './deps.js';
import { loadControlSecrets } from './store/secrets.js';

export interface LocalControlPlane {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startLocalControlPlane(env: Env, options: { logger?: Logger } = {}): Promise<LocalControlPlane> {
  const config = loadControlConfig(env);
  const logger = options.logger ?? createLogger('control', { level: config.logLevel });
  const secrets = await loadControlSecrets(config);
  const app = createApp(buildControlDeps(config, secrets, { clock: systemClock, logger }));

  if (config.staticDir) {
    // serveStatic takes a root relative to the working directory
    const root = path.relative(process.cwd(), path.resolve(config.staticDir)) || '.';
    app.get('/', serveStatic({ root, path: 'index.html' }));
    app.get('/m/*', serveStatic({ root, path: 'index.html' }));
    app.get('/*', serveStatic({ root }));
  }

  const server = serve({ fetch: app.fetch, port: config.port, hostname: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  logger.info('control plane listening', { url, devMode: config.devMode, staticDir: config.staticDir });
  return {
    url,
    port,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const running = await startLocalControlPlane(process.env);
  const shutdown = () => {
    running.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
