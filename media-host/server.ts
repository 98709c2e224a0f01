// The media host: an HTTP server (health, readiness, metrics, admin) whose
// upgrade handler admits signalling WebSockets only with a valid, unused
// media-join token from an allowed origin; behind it the worker pool, the
// rooms and the host's registry heartbeat. Everything is injected.
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { types } from 'mediasoup';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Clock } from '../shared/clock.js';
import { AppError, ErrorCode, errorRegistry, toAppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import {
  type Envelope,
  endMeetingNoticeSchema,
  SIGNALLING_PATH,
  SIGNALLING_SUBPROTOCOL,
  SIGNALLING_TOKEN_PARAM,
} from '../shared/protocol/http.js';
import { CloseCode, MAX_FRAME_BYTES, parseJsonSafely } from '../shared/protocol/signalling.js';
import type { HostLoad, HostStatus } from '../shared/tables.js';
import { type MediaJoinTokenClaims, type VerifyingKey, verifyToken } from '../shared/tokens.js';
import type { MediaHostConfig } from './config.js';
import { ConnectionRegistry } from './connections.js';
import { LeaveRecorder, type LeftAtWriter } from './leave-recorder.js';
import { defaultTransportSettings, type TransportSettings } from './media-settings.js';
import { createMediaHostMetrics, type MediaHostMetrics } from './metrics.js';
import { message } from './peer.js';
import { defaultRateLimitSettings, type RateLimitSettings, UserRateLimiter } from './rate-limit.js';
import { HostHeartbeat, type HostRegistryWriter } from './registry.js';
import { type PlacementClaim, RoomManager } from './rooms.js';
import { type SignallingContext, SignallingSession } from './signalling.js';
import type { MeetingClaim } from './store/host-registry-store.js';
import { type TokenUse, UsedTokens } from './used-tokens.js';
import { WorkerPool } from './workers.js';

export type MediaHostSettings = Omit<MediaHostConfig, 'controlPublicKeyPem' | 'aws' | 'tables' | 'logLevel'>;

export interface MediaHostStoresDeps {
  hosts: HostRegistryWriter & {
    releaseMeeting(meetingId: string, hostId: string): Promise<boolean>;
    claimMeeting(meetingId: string, hostId: string, assignedAt: string): Promise<MeetingClaim>;
  };
  participants: LeftAtWriter;
}

export interface MediaHostDeps {
  settings: MediaHostSettings;
  /** the control plane's ES256 public key */
  controlPublicKey: VerifyingKey;
  stores: MediaHostStoresDeps;
  clock: Clock;
  logger: Logger;
  rateLimit?: RateLimitSettings;
  transportSettings?: TransportSettings;
  workerLogLevel?: types.WorkerLogLevel;
  /** ping interval that finds dead sockets (default 30 s) */
  keepAliveIntervalMs?: number;
  /** a connection that has not joined (or has left) is closed after this long (default 30 s) */
  joinTimeoutMs?: number;
}

export interface MediaHost {
  readonly pool: WorkerPool;
  readonly rooms: RoomManager;
  readonly connections: ConnectionRegistry<SignallingSession>;
  readonly metrics: MediaHostMetrics;
  readonly leaveRecorder: LeaveRecorder;
  readonly httpServer: http.Server;
  readonly draining: boolean;
  /** listens, registers in the host registry and starts heartbeating */
  start(): Promise<{ port: number; url: string }>;
  /** DRAINING in the registry and /readyz; rooms keep running */
  startDraining(): Promise<void>;
  roomCount(): number;
  onRoomClosed(listener: () => void): () => void;
  /** closes every connection (4004), room and worker, then the HTTP server */
  close(): Promise<void>;
}

const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;
const MAX_ADMIN_BODY_BYTES = 4096;
/** Tokens are accepted this long past exp, so their jti is remembered that long too. */
const CLOCK_TOLERANCE_SECONDS = 5;
const DEFAULT_JOIN_TIMEOUT_MS = 30_000;

export async function createMediaHost(deps: MediaHostDeps): Promise<MediaHost> {
  const { settings, clock } = deps;
  const logger = deps.logger;
  const log = logger.child('server');
  const pool = await WorkerPool.create({
    numWorkers: settings.numWorkers,
    rtc: settings.rtc,
    logger: logger.child('workers'),
    ...(deps.workerLogLevel ? { workerLogLevel: deps.workerLogLevel } : {}),
  });
  const connections = new ConnectionRegistry<SignallingSession>();
  const rooms = new RoomManager({
    pool,
    clock,
    logger: logger.child('rooms'),
    transportSettings: deps.transportSettings ?? defaultTransportSettings,
    releaseGraceMs: settings.releaseGraceMs,
    releaseMeeting: async (meetingId) => {
      const released = await deps.stores.hosts.releaseMeeting(meetingId, settings.hostId);
      log.info('meeting placement release', { meetingId, released });
    },
    claimMeeting: async (meetingId): Promise<PlacementClaim> => {
      const now = new Date(clock.now()).toISOString();
      const claim = await deps.stores.hosts.claimMeeting(meetingId, settings.hostId, now);
      if (claim.outcome === 'ended') {
        return { outcome: 'ended', notice: { endedBy: claim.endedBy ?? 'unknown', endedAt: claim.endedAt ?? now } };
      }
      return { outcome: claim.outcome };
    },
    hasLiveConnections: (meetingId) => connections.hasLiveInMeeting(meetingId),
  });
  const metrics = createMediaHostMetrics({
    counts: () => rooms.counts(),
    connections: () => connections.size,
    workersAlive: () => pool.aliveCount,
  });
  pool.on('workerdied', () => metrics.workerDied());
  const leaveRecorder = new LeaveRecorder(deps.stores.participants, clock, logger.child('participants'));
  const context: SignallingContext = {
    rooms,
    pool,
    rateLimiter: new UserRateLimiter(deps.rateLimit ?? defaultRateLimitSettings, clock),
    connections,
    leaveRecorder,
    metrics,
    joinTimeoutMs: deps.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS,
    logger: logger.child('signalling'),
  };

  let draining = false;
  let closing: Promise<void> | undefined;
  const status = (): HostStatus => (draining ? 'DRAINING' : 'ACTIVE');

  const hostLoad = async (): Promise<HostLoad> => {
    const samples = await pool.sampleCpu();
    metrics.workerCpu(samples);
    const counts = rooms.counts();
    const workerCpu = samples.length ? samples.reduce((sum, s) => sum + s.cpuShare, 0) / samples.length : 0;
    return {
      rooms: counts.rooms,
      peers: counts.peers,
      producers: counts.producers,
      consumers: counts.consumers,
      workerCpu: Math.round(workerCpu * 1000) / 1000,
    };
  };

  const heartbeat = new HostHeartbeat({
    store: deps.stores.hosts,
    registration: {
      hostId: settings.hostId,
      signalingUrl: settings.publicSignalingUrl,
      adminUrl: settings.adminUrl,
      region: settings.hostRegion,
      zone: settings.hostZone,
      capacity: settings.capacityMeetings,
      startedAt: new Date(clock.now()).toISOString(),
    },
    status,
    load: hostLoad,
    intervalMs: settings.heartbeatIntervalMs,
    clock,
    logger: logger.child('registry'),
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(SIGNALLING_SUBPROTOCOL) ? SIGNALLING_SUBPROTOCOL : false),
  });

  // ---- WebSocket admission ----

  const originAllowed = (origin: string | undefined): boolean => {
    // Browsers always send Origin; other clients can claim anything, so its absence is not a threat.
    if (origin === undefined) return true;
    if (settings.allowedOrigins.includes('*')) return true;
    const normalized = origin.toLowerCase().replace(/\/+$/, '');
    return settings.allowedOrigins.some((allowed) => allowed.toLowerCase().replace(/\/+$/, '') === normalized);
  };

  /** Tokens the control plane minted for this host: ES256, its issuer, audience = this host. */
  const verifyControlToken = <K extends 'media-join' | 'service'>(kind: K, token: string) =>
    verifyToken(kind, token, {
      key: deps.controlPublicKey,
      algorithms: ['ES256'],
      issuer: settings.controlIssuer,
      audience: settings.hostId,
      nowMs: clock.now(),
      maxLifetimeSeconds: 60,
      clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
    });

  const usedTokens = new UsedTokens({ clock });
  /** Single use: the jti is kept until the token can no longer verify (exp + tolerance). */
  const useToken = (
    kind: 'media-join' | 'service',
    claims: { jti: string; exp: number; iat?: number | undefined; meetingId?: string | undefined },
  ): AppError | undefined => {
    const use = usedTokens.use(claims, claims.exp + CLOCK_TOLERANCE_SECONDS);
    if (use === 'fresh') return undefined;
    log.info('token refused', { kind, reason: use, meetingId: claims.meetingId });
    return tokenUseErrors[use]();
  };

  const admit = async (request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://host.invalid');
    if (url.pathname !== SIGNALLING_PATH) return rejectUpgrade(socket, 404, 'Not found');
    if (closing) return rejectUpgrade(socket, 503, 'Media host shutting down');
    if (!originAllowed(request.headers.origin)) return rejectUpgrade(socket, 403, 'Origin not allowed');
    const token = url.searchParams.get(SIGNALLING_TOKEN_PARAM) ?? tokenFromSubprotocols(request);
    if (!token) return rejectUpgrade(socket, 401, 'Missing media-join token');
    let claims: MediaJoinTokenClaims;
    try {
      claims = await verifyControlToken('media-join', token);
    } catch (error) {
      log.info('join token refused', { reason: toAppError(error).message });
      return rejectUpgrade(socket, 401, toAppError(error).message);
    }
    const refused = useToken('media-join', claims);
    if (refused) return rejectUpgrade(socket, refused.httpStatus, refused.message, refused.code);
    if (closing) return rejectUpgrade(socket, 503, 'Media host shutting down');
    if (socket.destroyed) return;
    wss.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      const session = new SignallingSession(
        ws,
        { socketId: randomUUID(), userId: claims.sub, nickname: claims.nickname, meetingId: claims.meetingId },
        context,
        socket,
      );
      keepAlive(ws);
      log.info('connection admitted', { socketId: session.socketId, meetingId: claims.meetingId, userId: claims.sub });
    });
  };

  // ---- keep-alive: terminate sockets that stop answering pings ----

  const alive = new WeakMap<WebSocket, boolean>();
  const keepAlive = (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
  };
  const pingTimer = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, deps.keepAliveIntervalMs ?? 30_000);
  pingTimer.unref();

  // ---- HTTP routes ----

  const endMeeting = async (request: IncomingMessage, response: ServerResponse, meetingId: string) => {
    const authorization = request.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
    if (!token) throw new AppError(ErrorCode.Unauthorized, 'Missing service token');
    const claims = await verifyControlToken('service', token);
    if (claims.meetingId !== undefined && claims.meetingId !== meetingId) {
      throw new AppError(ErrorCode.Forbidden, 'Service token is for another meeting');
    }
    // used before the body is read, so a slow body cannot stretch the token's life
    const refused = useToken('service', claims);
    if (refused) throw refused;
    const body = await readJsonBody(request);
    const notice = endMeetingNoticeSchema.safeParse(body);
    if (!notice.success) throw new AppError(ErrorCode.BadRequest, 'Body must be {endedBy, endedAt}');
    const peersNotified = rooms.endMeeting(meetingId, notice.data);
    // Connections that have not joined yet hear it too.
    for (const session of connections.forMeeting(meetingId)) {
      session.send(message('rtc:meetingEnded', { meetingId, ...notice.data }));
      session.close(CloseCode.MeetingEnded, 'Meeting ended');
    }
    log.info('meeting ended', { meetingId, endedBy: notice.data.endedBy, peersNotified });
    sendJson(response, 200, { code: 0, message: 'success', data: { peersNotified } });
  };

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://host.invalid');
    const method = request.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/healthz') {
      return sendJson(response, 200, { code: 0, message: 'success', data: { status: 'ok' } });
    }
    if (method === 'GET' && url.pathname === '/readyz') {
      const ready = !draining && !closing && pool.aliveCount > 0;
      return sendJson(response, ready ? 200 : 503, {
        code: ready ? 0 : ErrorCode.NoMediaHost,
        message: ready ? 'success' : draining ? 'draining' : 'no media worker',
        data: { ready, draining, workers: pool.aliveCount },
      });
    }
    if (method === 'GET' && url.pathname === '/metrics') {
      const text = await metrics.registry.metrics();
      response.writeHead(200, { 'content-type': metrics.registry.contentType });
      response.end(text);
      return;
    }
    const end = /^\/admin\/meetings\/([^/]+)\/end$/.exec(url.pathname);
    if (end?.[1]) {
      if (method !== 'POST') throw new AppError(ErrorCode.RouteNotFound);
      let meetingId: string;
      try {
        meetingId = decodeURIComponent(end[1]);
      } catch {
        throw new AppError(ErrorCode.BadRequest, 'Malformed meetingId');
      }
      if (meetingId.length === 0 || meetingId.length > 128) throw new AppError(ErrorCode.BadRequest, 'Bad meetingId');
      return endMeeting(request, response, meetingId);
    }
    throw new AppError(ErrorCode.RouteNotFound);
  };

  const httpServer = http.createServer((request, response) => {
    route(request, response).catch((error) => {
      const appError = toAppError(error);
      if (appError.code === ErrorCode.Internal) log.error('http request failed', { path: request.url, error });
      sendJson(response, appError.httpStatus, { code: appError.code, message: appError.message, data: null });
    });
  });
  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    admit(request, socket, head).catch((error) => {
      log.error('upgrade failed', { error });
      rejectUpgrade(socket, 500, errorRegistry[ErrorCode.Internal].message);
    });
  });

  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(pingTimer);
      await heartbeat.stop();
      // Peers close with 'host-shutdown' (sockets 4004); then whoever had not joined.
      await rooms.closeAll();
      for (const session of connections.all()) session.close(CloseCode.HostShutdown, 'Media host shutting down');
      await Promise.all([leaveRecorder.settled(), rooms.settled()]);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        if (!httpServer.listening) return resolve();
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
      await pool.close();
      log.info('media host closed', { hostId: settings.hostId });
    })();
    return closing;
  };

  return {
    pool,
    rooms,
    connections,
    metrics,
    leaveRecorder,
    httpServer,
    get draining() {
      return draining;
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(settings.port, settings.listenHost, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const port = (httpServer.address() as AddressInfo).port;
      const host = settings.listenHost.includes(':') ? `[${settings.listenHost}]` : settings.listenHost;
      const url = `http://${host}:${port}`;
      await heartbeat.start();
      log.info('media host listening', {
        url,
        hostId: settings.hostId,
        signalingUrl: settings.publicSignalingUrl,
        workers: pool.aliveCount,
      });
      return { port, url };
    },
    async startDraining() {
      if (draining) return;
      draining = true;
      log.info('draining', { hostId: settings.hostId, rooms: rooms.rooms.size });
      try {
        await heartbeat.setStatus('DRAINING');
      } catch (error) {
        log.warn('could not mark host DRAINING', { error });
      }
    },
    roomCount: () => rooms.rooms.size,
    onRoomClosed(listener) {
      const wrapped = () => listener();
      rooms.on('roomclosed', wrapped);
      return () => rooms.off('roomclosed', wrapped);
    },
    close,
  };
}

function tokenFromSubprotocols(request: IncomingMessage): string | undefined {
  const header = request.headers['sec-websocket-protocol'];
  if (!header) return undefined;
  return header
    .split(',')
    .map((value) => value.trim())
    .find((value) => JWT_SHAPE.test(value));
}

const tokenUseErrors: Record<Exclude<TokenUse, 'fresh'>, () => AppError> = {
  replayed: () => new AppError(ErrorCode.Forbidden, 'Token already used'),
  'issued-before-start': () =>
    new AppError(ErrorCode.Unauthorized, 'Token predates this media host process; request a new media session'),
  expired: () => new AppError(ErrorCode.Unauthorized, 'Token has expired'),
  full: () => new AppError(ErrorCode.NoMediaHost, 'Too many recent tokens; try again shortly'),
};

const upgradeErrorCode: Record<number, ErrorCode> = {
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.RouteNotFound,
  503: ErrorCode.NoMediaHost,
};

function rejectUpgrade(socket: Duplex, status: number, reason: string, code?: ErrorCode): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({
    code: code ?? upgradeErrorCode[status] ?? ErrorCode.Internal,
    message: reason,
    data: null,
  });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function sendJson(response: ServerResponse, status: number, body: Envelope<unknown>): void {
  if (response.headersSent) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_ADMIN_BODY_BYTES) throw new AppError(ErrorCode.BadRequest, 'Body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return parseJsonSafely(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AppError(ErrorCode.BadRequest, 'Body must be JSON');
  }
}
