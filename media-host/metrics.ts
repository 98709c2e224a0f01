// Prometheus metrics on the host's own registry (never the global one, so
// several hosts in one test process do not collide).
import { Counter, Gauge, Registry } from 'prom-client';
import { requestTypes } from '../shared/protocol/signalling.js';
import type { HostCounts } from './rooms.js';
import type { WorkerCpuSample } from './workers.js';

export interface MetricSources {
  counts(): HostCounts;
  connections(): number;
  workersAlive(): number;
}

export interface MediaHostMetrics {
  readonly registry: Registry;
  /** counts a received message; unknown types are grouped as 'invalid' */
  message(type: string): void;
  error(code: number): void;
  rateLimitDrop(): void;
  workerDied(): void;
  workerCpu(samples: WorkerCpuSample[]): void;
}

const knownTypes = new Set<string>(requestTypes);

export function createMediaHostMetrics(sources: MetricSources): MediaHostMetrics {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, read: (counts: HostCounts) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(sources.counts()));
      },
    });
  gauge('rtc_rooms', 'Rooms (meetings with a router) on this host', (c) => c.rooms);
  gauge('rtc_peers', 'Joined peers', (c) => c.peers);
  gauge('rtc_transports', 'WebRTC transports', (c) => c.transports);
  gauge('rtc_producers', 'Producers', (c) => c.producers);
  gauge('rtc_consumers', 'Consumers', (c) => c.consumers);
  new Gauge({
    name: 'rtc_signalling_connections',
    help: 'Open signalling WebSocket connections',
    registers,
    collect() {
      this.set(sources.connections());
    },
  });
  new Gauge({
    name: 'rtc_workers_alive',
    help: 'Live mediasoup workers',
    registers,
    collect() {
      this.set(sources.workersAlive());
    },
  });
  const workerCpu = new Gauge({
    name: 'rtc_worker_cpu_share',
    help: 'mediasoup worker CPU time per wall time over the last heartbeat interval (1 = one core)',
    labelNames: ['worker'] as const,
    registers,
  });
  const messages = new Counter({
    name: 'rtc_signalling_messages_total',
    help: 'Signalling messages received, by request type',
    labelNames: ['type'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'rtc_signalling_errors_total',
    help: 'Signalling error replies, by code',
    labelNames: ['code'] as const,
    registers,
  });
  const drops = new Counter({
    name: 'rtc_rate_limit_drops_total',
    help: 'Signalling messages dropped by the per-user rate limit',
    registers,
  });
  const deaths = new Counter({ name: 'rtc_worker_deaths_total', help: 'mediasoup workers that died', registers });

  return {
    registry,
    message: (type) => messages.inc({ type: knownTypes.has(type) ? type : 'invalid' }),
    error: (code) => errors.inc({ code: String(code) }),
    rateLimitDrop: () => drops.inc(),
    workerDied: () => deaths.inc(),
    workerCpu: (samples) => {
      workerCpu.reset();
      for (const sample of samples) workerCpu.set({ worker: String(sample.index) }, sample.cpuShare);
    },
  };
}
