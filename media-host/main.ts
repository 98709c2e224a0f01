// Media host entry point: reads the environment (through config), builds the
// dependencies, starts, and drains on SIGTERM. No logic lives here.
import { importSPKI } from 'jose';
import { systemClock } from '../shared/clock.js';
import { createLogger } from '../shared/logger.js';
import { loadMediaHostConfig } from './config.js';
import { drain } from './drain.js';
import { createMediaHost } from './server.js';
import { createMediaHostStores } from './store/index.js';

async function main(): Promise<void> {
  const config = loadMediaHostConfig(process.env);
  const logger = createLogger('media-host', { level: config.logLevel });
  const controlPublicKey = await importSPKI(config.controlPublicKeyPem, 'ES256');
  const stores = createMediaHostStores(config.aws, config.tables);
  const host = await createMediaHost({ settings: config, controlPublicKey, stores, clock: systemClock, logger });
  await host.start();

  let stopping = false;
  const stop = (signal: NodeJS.Signals, deadlineMs: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutdown requested', { signal, deadlineMs });
    drain(host, deadlineMs)
      .then((outcome) => {
        logger.info('media host stopped', { outcome });
        stores.destroy();
        process.exit(0);
      })
      .catch((error) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM', config.drainDeadlineMs));
  // Ctrl-C in development: do not wait for rooms to empty.
  process.on('SIGINT', () => stop('SIGINT', 0));
}

main().catch((error) => {
  createLogger('media-host').error('media host failed to start', { error });
  process.exit(1);
});
