// Media host configuration. Environment variables are read only here, and only
// when an entry point calls loadMediaHostConfig(env).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { LogLevel } from '../shared/logger.js';
import type { TableNames } from '../shared/tables.js';

export interface RtcListenConfig {
  /** IP the WebRtcServer sockets bind to */
  listenIp: string;
  /** address put into ICE candidates (public IP or hostname) */
  announcedAddress: string;
  /** worker i listens on portBase + i (UDP and TCP); 0 = an ephemeral port per worker (tests) */
  portBase: number;
}

export interface MediaHostConfig {
  hostId: string;
  listenHost: string;
  port: number;
  publicSignalingUrl: string;
  adminUrl: string;
  rtc: RtcListenConfig;
  numWorkers: number;
  /** SPKI PEM of the control plane's ES256 signing key */
  controlPublicKeyPem: string;
  controlIssuer: string;
  /** browser origins allowed to open the signalling socket; '*' allows any */
  allowedOrigins: string[];
  aws: { region: string; endpoint?: string };
  tables: TableNames;
  capacityMeetings: number;
  hostRegion: string;
  hostZone: string;
  drainDeadlineMs: number;
  logLevel: LogLevel;
  heartbeatIntervalMs: number;
  /** how long an empty meeting keeps its placement before the host releases it */
  releaseGraceMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value ? value : fallback;
}

function integer(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer >= ${min}`);
  return value;
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function loadMediaHostConfig(env: Env): MediaHostConfig {
  let controlPublicKeyPem = env.CONTROL_PUBLIC_KEY?.trim() ?? '';
  if (!controlPublicKeyPem && env.CONTROL_PUBLIC_KEY_FILE) {
    controlPublicKeyPem = readFileSync(env.CONTROL_PUBLIC_KEY_FILE, 'utf8').trim();
  }
  if (!controlPublicKeyPem) {
    throw new ConfigError('CONTROL_PUBLIC_KEY (SPKI PEM) or CONTROL_PUBLIC_KEY_FILE is required');
  }
  // PEMs passed through env files often carry literal "\n"
  controlPublicKeyPem = controlPublicKeyPem.replace(/\\n/g, '\n');

  const logLevel = text(env, 'LOG_LEVEL', 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const region = text(env, 'AWS_REGION', 'us-east-1');
  const endpoint = env.DYNAMODB_ENDPOINT?.trim();

  return {
    hostId: text(env, 'HOST_ID', `host-${os.hostname()}`),
    listenHost: text(env, 'LISTEN_HOST', '0.0.0.0'),
    port: integer(env, 'PORT', 8090),
    publicSignalingUrl: text(env, 'PUBLIC_SIGNALING_URL', 'ws://127.0.0.1:8090'),
    adminUrl: text(env, 'ADMIN_URL', 'http://127.0.0.1:8090'),
    rtc: {
      listenIp: text(env, 'RTC_LISTEN_IP', '0.0.0.0'),
      announcedAddress: text(env, 'RTC_ANNOUNCED_ADDRESS', '127.0.0.1'),
      portBase: integer(env, 'RTC_PORT_BASE', 40000),
    },
    numWorkers: integer(env, 'NUM_WORKERS', os.availableParallelism(), 1),
    controlPublicKeyPem,
    controlIssuer: text(env, 'CONTROL_ISSUER', 'rtc-control-plane'),
    allowedOrigins: list(env, 'ALLOWED_ORIGINS'),
    aws: endpoint ? { region, endpoint } : { region },
    tables: { meetings: text(env, 'TABLE_MEETINGS', 'rtc-meetings'), hosts: text(env, 'TABLE_HOSTS', 'rtc-hosts') },
    capacityMeetings: integer(env, 'CAPACITY_MEETINGS', 100, 1),
    hostRegion: text(env, 'HOST_REGION', region),
    hostZone: text(env, 'HOST_ZONE', 'local'),
    drainDeadlineMs: integer(env, 'DRAIN_DEADLINE_MS', 600_000),
    logLevel,
    heartbeatIntervalMs: 5_000,
    releaseGraceMs: 30_000,
  };
}
