// Keeps this host's registry item fresh: registers at start, then heartbeats
// (load, status, TTL) every few seconds. A heartbeat that finds the item gone
// (it expired while the host was stalled) registers again.
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { HostLoad, HostStatus } from '../shared/tables.js';
import type { HostRegistration } from './store/host-registry-store.js';

export interface HostRegistryWriter {
  register(registration: HostRegistration, nowMs: number): Promise<void>;
  heartbeat(hostId: string, update: { status: HostStatus; load: HostLoad }, nowMs: number): Promise<'ok' | 'missing'>;
  setStatus(hostId: string, status: HostStatus): Promise<void>;
}

export interface HostHeartbeatOptions {
  store: HostRegistryWriter;
  /** the registration fields that do not change while the host runs */
  registration: Omit<HostRegistration, 'status' | 'load'>;
  status(): HostStatus;
  load(): Promise<HostLoad>;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
}

export class HostHeartbeat {
  readonly #options: HostHeartbeatOptions;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;

  constructor(options: HostHeartbeatOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.#register();
    this.#timer = setInterval(() => void this.beat(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** One heartbeat now (skipped when one is still running). */
  async beat(): Promise<void> {
    if (this.#beating) return this.#beating;
    this.#beating = this.#beat().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  /** Writes the status at once (DRAINING must not wait for the next beat). */
  async setStatus(status: HostStatus): Promise<void> {
    await this.#options.store.setStatus(this.#options.registration.hostId, status);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#beating;
  }

  async #register(): Promise<void> {
    const { registration, store, clock } = this.#options;
    await store.register(
      { ...registration, status: this.#options.status(), load: await this.#options.load() },
      clock.now(),
    );
  }

  async #beat(): Promise<void> {
    const { store, registration, clock, logger } = this.#options;
    try {
      const load = await this.#options.load();
      const result = await store.heartbeat(registration.hostId, { status: this.#options.status(), load }, clock.now());
      if (result === 'missing') {
        logger.warn('host item missing, registering again', { hostId: registration.hostId });
        await this.#register();
      }
    } catch (error) {
      logger.warn('heartbeat failed', { hostId: registration.hostId, error });
    }
  }
}
