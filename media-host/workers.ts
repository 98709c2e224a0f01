// The mediasoup worker pool: N workers, each with one WebRtcServer (one UDP
// and one TCP port), routers placed on the least-loaded worker, and a worker
// that dies is reported (with the meetings it served) and replaced.
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import * as mediasoup from 'mediasoup';
import type { Logger } from '../shared/logger.js';
import type { RtcListenConfig } from './config.js';
import { TypedEmitter } from './events.js';
import { mediaCodecs } from './media-settings.js';

export interface WorkerHandle {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
  /** routerId -> meetingId of the routers living on this worker */
  readonly routers: Map<string, string>;
  /** routers being created right now (counted as load so a burst spreads) */
  pendingRouters: number;
  lastCpu: { cpuMs: number; atMs: number } | undefined;
}

export interface WorkerDiedEvent {
  index: number;
  pid: number;
  meetingIds: string[];
  error: Error;
}

export interface WorkerPoolEvents extends Record<string, unknown[]> {
  workerdied: [WorkerDiedEvent];
  workerreplaced: [{ index: number; pid: number }];
}

export interface WorkerPoolOptions {
  numWorkers: number;
  rtc: RtcListenConfig;
  logger: Logger;
  workerLogLevel?: types.WorkerLogLevel;
  /** first respawn delay after a worker death; doubles on each failed attempt */
  respawnDelayMs?: number;
}

export interface WorkerCpuSample {
  index: number;
  pid: number;
  /** CPU time used per wall-clock time since the previous sample (1 = one core) */
  cpuShare: number;
}

const MAX_RESPAWN_DELAY_MS = 30_000;

export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #logger: Logger;
  readonly #handles: (WorkerHandle | undefined)[];
  #routerRtpCapabilities: types.RouterRtpCapabilities | undefined;
  #closed = false;

  private constructor(options: WorkerPoolOptions) {
    super(options.logger);
    this.#options = options;
    this.#logger = options.logger;
    this.#handles = new Array(options.numWorkers).fill(undefined);
  }

  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    try {
      for (let index = 0; index < options.numWorkers; index++) {
        pool.#handles[index] = await pool.#spawn(index);
      }
      pool.#routerRtpCapabilities = await pool.#probeRouterCapabilities();
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Live workers. */
  get handles(): WorkerHandle[] {
    return this.#handles.filter((handle): handle is WorkerHandle => handle !== undefined);
  }

  get aliveCount(): number {
    return this.handles.length;
  }

  /**
   * Every router gets the same codec list, so their capabilities are equal;
   * this copy lets a client load its Device before it joins.
   */
  get routerRtpCapabilities(): types.RouterRtpCapabilities {
    if (!this.#routerRtpCapabilities) throw new Error('worker pool not started');
    return this.#routerRtpCapabilities;
  }

  /** Creates a router for a meeting on the worker with the fewest routers. */
  async createRouter(meetingId: string): Promise<{ router: types.Router; handle: WorkerHandle }> {
    const handle = this.#leastLoaded();
    if (!handle) throw new Error('no live mediasoup worker');
    handle.pendingRouters++;
    let router: types.Router;
    try {
      router = await handle.worker.createRouter({ mediaCodecs, appData: { meetingId } });
    } finally {
      handle.pendingRouters--;
    }
    handle.routers.set(router.id, meetingId);
    router.observer.once('close', () => handle.routers.delete(router.id));
    return { router, handle };
  }

  /** CPU share per worker since the previous call (first call: since spawn). */
  async sampleCpu(): Promise<WorkerCpuSample[]> {
    const samples: WorkerCpuSample[] = [];
    for (const handle of this.handles) {
      try {
        const usage = await handle.worker.getResourceUsage();
        const cpuMs = usage.ru_utime + usage.ru_stime;
        const atMs = performance.now();
        const previous = handle.lastCpu ?? { cpuMs: 0, atMs: atMs - 1 };
        handle.lastCpu = { cpuMs, atMs };
        const share = Math.max(0, (cpuMs - previous.cpuMs) / Math.max(1, atMs - previous.atMs));
        samples.push({ index: handle.index, pid: handle.worker.pid, cpuShare: share });
      } catch (error) {
        this.#logger.warn('worker resource usage failed', { index: handle.index, error });
      }
    }
    return samples;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const exits: Promise<void>[] = [];
    for (const [index, handle] of this.#handles.entries()) {
      if (!handle) continue;
      this.#handles[index] = undefined;
      if (!handle.worker.subprocessClosed) {
        exits.push(new Promise((resolve) => handle.worker.once('subprocessclose', () => resolve())));
      }
      handle.worker.close();
    }
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  }

  #leastLoaded(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const handle of this.handles) {
      const load = handle.routers.size + handle.pendingRouters;
      if (!best || load < best.routers.size + best.pendingRouters) best = handle;
    }
    return best;
  }

  async #spawn(index: number): Promise<WorkerHandle> {
    const worker = await mediasoup.createWorker({
      logLevel: this.#options.workerLogLevel ?? 'warn',
      appData: { index },
    });
    const { rtc } = this.#options;
    const port = rtc.portBase > 0 ? { port: rtc.portBase + index } : {};
    let webRtcServer: types.WebRtcServer;
    try {
      webRtcServer = await worker.createWebRtcServer({
        listenInfos: [
          { protocol: 'udp', ip: rtc.listenIp, announcedAddress: rtc.announcedAddress, ...port },
          { protocol: 'tcp', ip: rtc.listenIp, announcedAddress: rtc.announcedAddress, ...port },
        ],
        appData: { index },
      });
    } catch (error) {
      worker.close();
      throw error;
    }
    const handle: WorkerHandle = {
      index,
      worker,
      webRtcServer,
      routers: new Map(),
      pendingRouters: 0,
      lastCpu: undefined,
    };
    worker.on('died', (error) => this.#onDied(handle, error));
    this.#logger.info('mediasoup worker started', { index, pid: worker.pid });
    return handle;
  }

  #onDied(handle: WorkerHandle, error: Error): void {
    if (this.#handles[handle.index] === handle) this.#handles[handle.index] = undefined;
    const meetingIds = [...new Set(handle.routers.values())];
    handle.routers.clear();
    this.#logger.error('mediasoup worker died', { index: handle.index, pid: handle.worker.pid, meetingIds, error });
    this.emit('workerdied', { index: handle.index, pid: handle.worker.pid, meetingIds, error });
    void this.#respawn(handle.index, this.#options.respawnDelayMs ?? 0);
  }

  async #respawn(index: number, delayMs: number): Promise<void> {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
    if (this.#closed) return;
    try {
      const handle = await this.#spawn(index);
      if (this.#closed) {
        handle.worker.close();
        return;
      }
      this.#handles[index] = handle;
      this.emit('workerreplaced', { index, pid: handle.worker.pid });
    } catch (error) {
      const next = Math.min(MAX_RESPAWN_DELAY_MS, Math.max(500, delayMs * 2));
      this.#logger.error('mediasoup worker respawn failed', { index, retryInMs: next, error });
      void this.#respawn(index, next);
    }
  }

  async #probeRouterCapabilities(): Promise<types.RouterRtpCapabilities> {
    const handle = this.handles[0];
    if (!handle) throw new Error('no live mediasoup worker');
    const router = await handle.worker.createRouter({ mediaCodecs });
    const capabilities = router.rtpCapabilities;
    router.close();
    return capabilities;
  }
}
