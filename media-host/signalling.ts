// One signalling connection: frames are size-checked, parsed safely
// (depth-limited), rate-limited (answers to announced producers may use
// credit) and validated against the shared schemas before any logic runs; valid requests are handled one at a time, in order, and every
// request gets exactly one reply (success or rtc:error). No frame can throw
// out of the socket's listener. The connection's media state lives in a Peer
// that this session is attached to as its sink; a connection that has not
// joined (or has left) is closed after the join timeout.
import { randomUUID } from 'node:crypto';
import { parseScalabilityMode, type types } from 'mediasoup';
import { type RawData, WebSocket } from 'ws';
import { AppError, ErrorCode, toAppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { announcedProducers, isAnswerRequest, REQUESTS_PER_ANNOUNCED_PRODUCER } from '../shared/protocol/rate-limit.js';
import {
  CloseCode,
  type ErrorReply,
  JsonTooDeepError,
  MAX_FRAME_BYTES,
  parseJsonSafely,
  type RequestData,
  type RequestType,
  type ResponseData,
  type ResponseTypeFor,
  requestSchemas,
  responseTypeFor,
  type ServerMessage,
  type SignallingRequest,
  type SuccessReply,
  signallingRequestSchema,
} from '../shared/protocol/signalling.js';
import type { ConnectionRegistry } from './connections.js';
import type { LeaveRecorder } from './leave-recorder.js';
import { peerLimits } from './media-settings.js';
import type { MediaHostMetrics } from './metrics.js';
import { type Broadcast, message, Peer, type PeerCloseReason, type PeerConnectionSink } from './peer.js';
import type { UserRateLimiter } from './rate-limit.js';
import { type Room, RoomClosedError } from './room.js';
import { MEETING_MOVED_MESSAGE, MeetingMovedError, type RoomManager } from './rooms.js';
import type { WorkerPool } from './workers.js';

/** The TCP socket under the WebSocket: corked while a batch of frames is written. */
export interface Wire {
  cork(): void;
  uncork(): void;
}

/** Who a connection is, from its verified media-join token. */
export interface SessionIdentity {
  socketId: string;
  userId: string;
  nickname: string;
  meetingId: string;
}

export interface SignallingContext {
  rooms: RoomManager;
  pool: WorkerPool;
  rateLimiter: UserRateLimiter;
  connections: ConnectionRegistry<SignallingSession>;
  leaveRecorder: LeaveRecorder;
  metrics: MediaHostMetrics;
  /** how long a connection may stay open without a joined peer */
  joinTimeoutMs: number;
  logger: Logger;
}

type RequestOf<T extends RequestType> = Extract<SignallingRequest, { type: T }>;
type Reply<T extends RequestType> = ResponseData<ResponseTypeFor<T>>;

interface RequestHead {
  requestId?: string;
  requestType?: string;
}

/** Close codes per reason a peer was closed from the server side. */
const closeCodeFor: Partial<Record<PeerCloseReason, { code: number; reason: string }>> = {
  replaced: { code: CloseCode.ReplacedByNewConnection, reason: 'Replaced by a newer connection' },
  'meeting-ended': { code: CloseCode.MeetingEnded, reason: 'Meeting ended' },
  'meeting-moved': { code: CloseCode.MeetingMoved, reason: 'Meeting moved to another host' },
  'worker-died': { code: CloseCode.WorkerDied, reason: 'Media worker failed' },
  'host-shutdown': { code: CloseCode.HostShutdown, reason: 'Media host shutting down' },
};

/** What the client is told (50001, no requestId) before the close, where the close code alone is not enough. */
const closeNoticeFor: Partial<Record<PeerCloseReason, string>> = {
  'worker-died': 'The media worker serving this meeting failed; rejoin the meeting',
  'meeting-moved': MEETING_MOVED_MESSAGE,
};

/** Peer close reasons after which the user may have left the meeting (REQ-002 left_at). */
const leavingReasons = new Set<PeerCloseReason>(['left', 'disconnected', 'worker-died', 'host-shutdown']);

/** Socket close codes after which the user has not left the meeting: it ended, or continues elsewhere. */
const notLeavingCloseCodes = new Set<number>([
  CloseCode.ReplacedByNewConnection,
  CloseCode.MeetingEnded,
  CloseCode.MeetingMoved,
]);

export class SignallingSession implements PeerConnectionSink {
  readonly socketId: string;
  readonly userId: string;
  readonly nickname: string;
  readonly meetingId: string;
  readonly #ws: WebSocket;
  readonly #ctx: SignallingContext;
  readonly #logger: Logger;
  #peer: Peer | undefined;
  #room: Room | undefined;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #left = false;
  /** ever had a peer: its close, not the socket's, decides left_at */
  #everJoined = false;
  #joining = false;
  #joinTimer: NodeJS.Timeout | undefined;
  readonly #wire: Wire | undefined;
  #queuedBroadcasts: string[] = [];

  constructor(ws: WebSocket, identity: SessionIdentity, ctx: SignallingContext, wire?: Wire) {
    this.#ws = ws;
    this.#wire = wire;
    this.#ctx = ctx;
    this.socketId = identity.socketId;
    this.userId = identity.userId;
    this.nickname = identity.nickname;
    this.meetingId = identity.meetingId;
    this.#logger = ctx.logger;
    ctx.connections.add(this);
    ws.on('message', (data, isBinary) => this.#onFrame(data, isBinary));
    ws.on('close', () => this.#teardown(true));
    ws.on('error', (error) => this.#logger.debug('socket error', { socketId: this.socketId, error }));
    this.#armJoinTimer();
  }

  /** Open and not left the meeting (counts as presence for left_at). */
  get live(): boolean {
    return !this.#closed && !this.#left;
  }

  get peer(): Peer | undefined {
    return this.#peer;
  }

  send(msg: ServerMessage): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#flushBroadcasts();
    this.#creditAnnounced(msg);
    this.#ws.send(JSON.stringify(msg));
  }

  /**
   * Broadcasts wait until the end of this event-loop turn (or the next direct
   * message, which keeps the order) and then leave in one socket write: a
   * burst of joins and producers costs each socket one syscall per turn, not
   * one per message.
   */
  sendBroadcast(broadcast: Broadcast): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#creditAnnounced(broadcast.message);
    if (this.#queuedBroadcasts.length === 0) setImmediate(this.#flushBroadcasts);
    this.#queuedBroadcasts.push(broadcast.encoded);
  }

  /** Producers announced to this user come with the rate-limit tokens to consume and resume them. */
  #creditAnnounced(msg: ServerMessage): void {
    const producers = announcedProducers(msg);
    if (producers > 0) this.#ctx.rateLimiter.credit(this.userId, producers * REQUESTS_PER_ANNOUNCED_PRODUCER);
  }

  readonly #flushBroadcasts = (): void => {
    if (this.#queuedBroadcasts.length === 0) return;
    const frames = this.#queuedBroadcasts;
    this.#queuedBroadcasts = [];
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#wire?.cork();
    for (const frame of frames) this.#ws.send(frame);
    this.#wire?.uncork();
  };

  /** Closes the socket; the peer (if any) is closed at once, not after the close handshake. */
  close(code: number, reason: string): void {
    // e.g. rtc:meetingEnded goes out before the close frame
    this.#flushBroadcasts();
    this.#teardown(!notLeavingCloseCodes.has(code));
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close(code, reason);
    }
  }

  // ---- frames ----

  #onFrame(data: RawData, isBinary: boolean): void {
    if (this.#closed) return;
    try {
      this.#acceptFrame(data, isBinary);
    } catch (error) {
      // A bug or a pathological frame costs one error reply, never the socket or the process.
      this.#logger.error('frame handling failed', { socketId: this.socketId, error });
      this.send({ type: 'rtc:error', error: 'The request could not be processed', code: ErrorCode.Internal });
    }
  }

  #acceptFrame(data: RawData, isBinary: boolean): void {
    const buffer = toBuffer(data);
    // ws enforces maxPayload already; this guards any other transport of frames.
    if (buffer.byteLength > MAX_FRAME_BYTES) {
      this.close(CloseCode.MessageTooBig, 'Frame too large');
      return;
    }
    // Parsed once, before the rate limit: answers to announced producers are
    // paid from credit, and even a refusal names its request.
    let raw: unknown;
    let unparsable: string | undefined;
    if (isBinary) {
      unparsable = 'Frames must be JSON text';
    } else {
      try {
        raw = parseJsonSafely(buffer.toString('utf8'));
      } catch (error) {
        unparsable = error instanceof JsonTooDeepError ? error.message : 'Malformed JSON';
      }
    }
    const head = headOf(raw);
    const decision = this.#ctx.rateLimiter.take(this.userId, isAnswerRequest(head.requestType));
    if (decision !== 'allow') {
      this.#ctx.metrics.rateLimitDrop();
      this.#replyError(
        head,
        new AppError(ErrorCode.RateLimited, 'Too many signalling messages (at most 10 per second); request dropped'),
      );
      if (decision === 'abuse') this.close(CloseCode.PolicyViolation, 'Signalling rate limit exceeded');
      return;
    }
    if (unparsable !== undefined) {
      this.#ctx.metrics.message('invalid');
      this.#replyError({}, new AppError(ErrorCode.BadRequest, unparsable));
      return;
    }
    let validation: Validation;
    try {
      validation = validate(raw, head);
    } catch (error) {
      // e.g. a schema recursing too deep: the frame is refused, not the connection
      this.#logger.warn('request validation threw', { socketId: this.socketId, requestType: head.requestType, error });
      validation = { ok: false, error: `Invalid ${head.requestType ?? ''} request: it could not be validated` };
    }
    this.#ctx.metrics.message(validation.ok ? validation.request.type : 'invalid');
    if (!validation.ok) {
      this.#replyError(head, new AppError(ErrorCode.BadRequest, validation.error));
      return;
    }
    const request = validation.request;
    // #handle answers its own errors; this catch only keeps the queue (and the process) alive.
    this.#queue = this.#queue
      .then(() => this.#handle(request))
      .catch((error) => this.#logger.error('request handling failed', { socketId: this.socketId, error }));
  }

  async #handle(request: SignallingRequest): Promise<void> {
    if (this.#closed) return;
    const head: RequestHead = { requestId: request.requestId, requestType: request.type };
    try {
      if (request.data.meetingId !== this.meetingId) {
        throw new AppError(ErrorCode.Forbidden, 'meetingId is not the meeting this connection was admitted to');
      }
      if (this.#ctx.rooms.isEnded(this.meetingId)) throw new AppError(ErrorCode.MeetingEnded);
      const reply = await this.#dispatch(request);
      if (request.requestId !== undefined) reply.requestId = request.requestId;
      this.send(reply);
    } catch (error) {
      this.#replyError(head, this.#toClientError(error, request.type));
      // The client must fetch a new media session (control plane) for the host that serves it now.
      if (error instanceof MeetingMovedError) this.close(CloseCode.MeetingMoved, 'Meeting moved to another host');
      // An ended meeting answers 40901 (readable by a browser, unlike a refused upgrade), then hangs up.
      else if (error instanceof AppError && error.code === ErrorCode.MeetingEnded) {
        this.close(CloseCode.MeetingEnded, 'Meeting ended');
      }
    }
  }

  #dispatch(request: SignallingRequest): Promise<SuccessReply> {
    switch (request.type) {
      case 'rtc:join':
        return this.#run(request, () => this.#join());
      case 'rtc:getRouterRtpCapabilities':
        return this.#run(request, async () => ({
          rtpCapabilities: (this.#room?.router.rtpCapabilities ??
            this.#ctx.pool.routerRtpCapabilities) as Reply<'rtc:getRouterRtpCapabilities'>['rtpCapabilities'],
        }));
      case 'rtc:createTransport':
        return this.#run(request, () => this.#createTransport(request.data));
      case 'rtc:connectTransport':
        return this.#run(request, () => this.#connectTransport(request.data));
      case 'rtc:produce':
        return this.#run(request, () => this.#produce(request.data));
      case 'rtc:consume':
        return this.#run(request, () => this.#consume(request.data));
      case 'rtc:resumeConsumer':
        return this.#run(request, () => this.#resumeConsumer(request.data));
      case 'rtc:leave':
        return this.#run(request, async () => this.#leave());
      case 'rtc:pauseProducer':
        return this.#run(request, () => this.#setProducerPaused(request.data, true));
      case 'rtc:resumeProducer':
        return this.#run(request, () => this.#setProducerPaused(request.data, false));
      case 'rtc:closeProducer':
        return this.#run(request, async () => this.#closeProducer(request.data));
      case 'rtc:setPreferredLayers':
        return this.#run(request, () => this.#setPreferredLayers(request.data));
    }
  }

  async #run<T extends RequestType>(request: RequestOf<T>, handler: () => Promise<Reply<T>>): Promise<SuccessReply> {
    const data = await handler();
    return { type: responseTypeFor[request.type as T], data } as SuccessReply;
  }

  // ---- handlers ----

  async #join(): Promise<Reply<'rtc:join'>> {
    if (this.#peer) throw new AppError(ErrorCode.BadRequest, 'Already joined; send rtc:leave first');
    if (this.#left) {
      throw new AppError(ErrorCode.BadRequest, 'This connection left the meeting; open a new signalling URL to rejoin');
    }
    this.#joining = true;
    try {
      return await this.#joinRoom();
    } finally {
      this.#joining = false;
    }
  }

  async #joinRoom(): Promise<Reply<'rtc:join'>> {
    // A room can close between being handed out and being joined (its last
    // peer left); then a fresh one is created.
    for (let attempt = 0; ; attempt++) {
      const room = await this.#ctx.rooms.getOrCreate(this.meetingId);
      if (this.#closed) {
        this.#ctx.rooms.closeIfEmpty(room);
        throw new RoomClosedError('connection closed while joining');
      }
      const peer = new Peer(
        { peerId: randomUUID(), userId: this.userId, nickname: this.nickname },
        this,
        this.#logger.child('peer'),
      );
      let peers: Reply<'rtc:join'>['peers'];
      try {
        peers = room.join(peer);
      } catch (error) {
        if (error instanceof RoomClosedError && attempt < 2) continue;
        throw error;
      }
      this.#peer = peer;
      this.#room = room;
      this.#everJoined = true;
      this.#clearJoinTimer();
      peer.once('close', (reason) => this.#onPeerClose(peer, reason));
      this.#logger.info('peer joined', { meetingId: this.meetingId, peerId: peer.peerId, socketId: this.socketId });
      return { peerId: peer.peerId, peers };
    }
  }

  async #createTransport(data: RequestData<'rtc:createTransport'>): Promise<Reply<'rtc:createTransport'>> {
    const { room, peer } = this.#joined();
    const existing = data.direction === 'send' ? peer.sendTransportId : peer.recvTransportId;
    if (existing) throw new AppError(ErrorCode.BadRequest, `A ${data.direction} transport already exists`);
    const transport = await room.createWebRtcTransport(peer, data.direction);
    return {
      transportId: transport.id,
      direction: data.direction,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  async #connectTransport(data: RequestData<'rtc:connectTransport'>): Promise<Reply<'rtc:connectTransport'>> {
    const { peer } = this.#joined();
    const transport = this.#transport(peer, data.transportId);
    if (!peer.markConnected(transport.id)) throw new AppError(ErrorCode.BadRequest, 'Transport is already connected');
    try {
      await transport.connect({ dtlsParameters: data.dtlsParameters as types.DtlsParameters });
    } catch (error) {
      throw clientParameterError(error, 'dtlsParameters rejected');
    }
    return { transportId: transport.id };
  }

  async #produce(data: RequestData<'rtc:produce'>): Promise<Reply<'rtc:produce'>> {
    const { room, peer } = this.#joined();
    const transport = this.#transport(peer, data.transportId);
    if (peer.transportDirection(transport.id) !== 'send') {
      throw new AppError(ErrorCode.BadRequest, 'rtc:produce needs the send transport');
    }
    if (peer.producers.size >= peerLimits.maxProducers) {
      throw new AppError(ErrorCode.BadRequest, `At most ${peerLimits.maxProducers} producers per peer`);
    }
    const wrongKind = data.rtpParameters.codecs.find(
      (codec) => !codec.mimeType.toLowerCase().startsWith(`${data.kind}/`),
    );
    if (wrongKind) {
      throw new AppError(ErrorCode.BadRequest, `Codec ${wrongKind.mimeType} does not match kind "${data.kind}"`);
    }
    const appData = { ...(data.appData ?? {}) };
    let producer: types.Producer;
    try {
      producer = await transport.produce({
        kind: data.kind,
        rtpParameters: data.rtpParameters as types.RtpParameters,
        appData,
      });
    } catch (error) {
      throw clientParameterError(error, 'rtpParameters rejected');
    }
    if (peer.closed || producer.closed) {
      producer.close();
      throw new RoomClosedError('peer left while producing');
    }
    peer.addProducer(producer);
    room.broadcast(
      message('rtc:newProducer', {
        producerId: producer.id,
        peerId: peer.peerId,
        kind: data.kind,
        paused: producer.paused,
        appData,
      }),
      peer.peerId,
    );
    return { producerId: producer.id };
  }

  async #consume(data: RequestData<'rtc:consume'>): Promise<Reply<'rtc:consume'>> {
    const { room, peer } = this.#joined();
    const transport = peer.recvTransportId ? peer.transports.get(peer.recvTransportId) : undefined;
    if (!transport) throw new AppError(ErrorCode.BadRequest, 'Create a recv transport (rtc:createTransport) first');
    const found = room.findProducer(data.producerId);
    if (!found || found.producer.closed) throw new AppError(ErrorCode.ProducerNotFound);
    const rtpCapabilities = relevantCapabilities(found.producer, data.rtpCapabilities as types.RtpCapabilities);
    // canConsume clones and validates the capabilities again, which consume()
    // does anyway: ask it only when its answer decides the reply (a mismatch
    // is reported before the consumer limit; see also the catch below).
    const mismatch = () => !room.router.canConsume({ producerId: found.producer.id, rtpCapabilities });
    if (peer.consumers.size >= peerLimits.maxConsumers) {
      if (mismatch()) {
        throw new AppError(ErrorCode.BadRequest, describeConsumeMismatch(found.producer, rtpCapabilities));
      }
      throw new AppError(ErrorCode.BadRequest, `At most ${peerLimits.maxConsumers} consumers per peer`);
    }
    let consumer: types.Consumer;
    try {
      consumer = await transport.consume({
        producerId: found.producer.id,
        rtpCapabilities,
        paused: true,
        // NACK/RTX storage for audio too (opus), not only video
        enableRtx: true,
        ...highestLayers(found.producer),
        appData: { peerId: found.peer.peerId },
      });
    } catch (error) {
      if (found.producer.closed) throw new AppError(ErrorCode.ProducerNotFound);
      // consume() throws for every set canConsume refuses: answer as the pre-check did
      if (isClientParameterError(error) && mismatch()) {
        throw new AppError(ErrorCode.BadRequest, describeConsumeMismatch(found.producer, rtpCapabilities));
      }
      throw clientParameterError(error, 'rtpCapabilities rejected');
    }
    if (peer.closed) {
      consumer.close();
      throw new RoomClosedError('peer left while consuming');
    }
    // The producer closed while the worker created the consumer: its close
    // notice may even have arrived before the consumer object existed.
    if (found.producer.closed || consumer.closed) {
      consumer.close();
      throw new AppError(ErrorCode.ProducerNotFound);
    }
    peer.addConsumer(consumer);
    return {
      consumerId: consumer.id,
      producerId: found.producer.id,
      peerId: found.peer.peerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters as Reply<'rtc:consume'>['rtpParameters'],
      type: consumer.type,
      producerPaused: consumer.producerPaused,
      appData: found.producer.appData as Reply<'rtc:consume'>['appData'],
    };
  }

  async #resumeConsumer(data: RequestData<'rtc:resumeConsumer'>): Promise<Reply<'rtc:resumeConsumer'>> {
    const { room, peer } = this.#joined();
    const consumer = peer.consumers.get(data.consumerId);
    if (!consumer) throw new AppError(ErrorCode.ConsumerNotFound);
    await unlessGone(consumerGone(room, consumer), ErrorCode.ConsumerNotFound, () => consumer.resume());
    return { consumerId: consumer.id };
  }

  #leave(): Reply<'rtc:leave'> {
    const { peer } = this.#joined();
    this.#left = true;
    peer.close('left');
    return { peerId: peer.peerId };
  }

  async #setProducerPaused(
    data: RequestData<'rtc:pauseProducer'>,
    paused: boolean,
  ): Promise<Reply<'rtc:pauseProducer'>> {
    const { room, peer } = this.#joined();
    const producer = peer.producers.get(data.producerId);
    if (!producer) throw new AppError(ErrorCode.ProducerNotFound);
    await unlessGone(
      () => producer.closed,
      ErrorCode.ProducerNotFound,
      () => (paused ? producer.pause() : producer.resume()),
    );
    const type = paused ? 'rtc:producerPaused' : 'rtc:producerResumed';
    room.broadcast(message(type, { producerId: producer.id, peerId: peer.peerId }), peer.peerId);
    return { producerId: producer.id };
  }

  #closeProducer(data: RequestData<'rtc:closeProducer'>): Reply<'rtc:closeProducer'> {
    const { peer } = this.#joined();
    const producer = peer.producers.get(data.producerId);
    if (!producer) throw new AppError(ErrorCode.ProducerNotFound);
    // The room broadcasts rtc:producerClosed from the producer's close event.
    producer.close();
    return { producerId: producer.id };
  }

  async #setPreferredLayers(data: RequestData<'rtc:setPreferredLayers'>): Promise<Reply<'rtc:setPreferredLayers'>> {
    const { room, peer } = this.#joined();
    const consumer = peer.consumers.get(data.consumerId);
    if (!consumer) throw new AppError(ErrorCode.ConsumerNotFound);
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') {
      throw new AppError(ErrorCode.BadRequest, 'Preferred layers apply to simulcast or SVC consumers only');
    }
    await unlessGone(consumerGone(room, consumer), ErrorCode.ConsumerNotFound, () =>
      consumer.setPreferredLayers({
        spatialLayer: data.spatialLayer,
        ...(data.temporalLayer !== undefined ? { temporalLayer: data.temporalLayer } : {}),
      }),
    );
    return { consumerId: consumer.id };
  }

  // ---- helpers ----

  #joined(): { room: Room; peer: Peer } {
    if (!this.#peer || !this.#room || this.#peer.closed) {
      throw new AppError(ErrorCode.BadRequest, 'Join the meeting first (rtc:join)');
    }
    return { room: this.#room, peer: this.#peer };
  }

  /** Only the peer's own transports are visible: anything else is unknown. */
  #transport(peer: Peer, transportId: string): types.WebRtcTransport {
    const transport = peer.transports.get(transportId);
    if (!transport) throw new AppError(ErrorCode.TransportNotFound);
    return transport;
  }

  #onPeerClose(peer: Peer, reason: PeerCloseReason): void {
    if (this.#peer === peer) {
      this.#peer = undefined;
      this.#room = undefined;
    }
    if (leavingReasons.has(reason) && !this.#ctx.connections.hasOtherLive(this)) {
      this.#ctx.leaveRecorder.record(this.meetingId, this.userId);
    }
    // left, socket still open: it cannot rejoin, so it only gets the timeout's grace
    if (reason === 'left' && !this.#closed) this.#armJoinTimer();
    const notice = closeNoticeFor[reason];
    if (notice) this.#replyError({}, new AppError(ErrorCode.Internal, notice));
    const close = closeCodeFor[reason];
    if (close) this.close(close.code, close.reason);
  }

  #toClientError(error: unknown, requestType: RequestType): AppError {
    if (error instanceof MeetingMovedError) return new AppError(ErrorCode.Internal, error.message, { cause: error });
    if (error instanceof RoomClosedError) {
      return new AppError(ErrorCode.Internal, 'The room closed while the request was handled', { cause: error });
    }
    const appError = toAppError(error);
    if (appError.code === ErrorCode.Internal) {
      this.#logger.error('request failed', { requestType, socketId: this.socketId, error });
    }
    return appError;
  }

  #replyError(head: RequestHead, error: AppError): void {
    this.#ctx.metrics.error(error.code);
    const reply: ErrorReply = { type: 'rtc:error', error: error.message, code: error.code };
    if (head.requestId !== undefined) reply.requestId = head.requestId;
    if (head.requestType !== undefined) reply.requestType = head.requestType;
    this.send(reply);
  }

  #armJoinTimer(): void {
    this.#clearJoinTimer();
    const timer = setTimeout(() => {
      if (this.#joinTimer !== timer || this.#peer) return;
      // a join waiting on the room (or DynamoDB) gets another period
      if (this.#joining) return this.#armJoinTimer();
      this.#logger.info('no rtc:join in time', { socketId: this.socketId, meetingId: this.meetingId });
      this.close(CloseCode.JoinTimeout, 'No rtc:join in time');
    }, this.#ctx.joinTimeoutMs);
    timer.unref();
    this.#joinTimer = timer;
  }

  #clearJoinTimer(): void {
    clearTimeout(this.#joinTimer);
    this.#joinTimer = undefined;
  }

  /** `leaving`: the user may have gone (not replaced, not moved, meeting not ended). */
  #teardown(leaving: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearJoinTimer();
    this.#ctx.connections.remove(this);
    if (this.#peer) {
      // #onPeerClose decides left_at
      this.#peer.close('disconnected');
    } else if (leaving && !this.#everJoined && !this.#ctx.connections.hasOtherLive(this)) {
      // Never joined here, and no other connection of the user is left either:
      // its other tab may have left while this one waited, so record the leave now.
      this.#ctx.leaveRecorder.record(this.meetingId, this.userId);
    }
    this.#peer = undefined;
    this.#room = undefined;
    if (!this.#ctx.connections.hasLiveInMeeting(this.meetingId)) this.#ctx.rooms.connectionsGone(this.meetingId);
  }
}

// ---- validation ----

type Validation = { ok: true; request: SignallingRequest } | { ok: false; error: string };

function validate(raw: unknown, head: RequestHead): Validation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: 'A request must be a JSON object {type, data, requestId?}' };
  }
  if (head.requestType === undefined) return { ok: false, error: 'Missing "type"' };
  if (!Object.hasOwn(requestSchemas, head.requestType)) {
    return { ok: false, error: `Unknown message type "${head.requestType}"` };
  }
  const parsed = signallingRequestSchema.safeParse(raw);
  if (parsed.success) return { ok: true, request: parsed.data };
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
  return { ok: false, error: `Invalid ${head.requestType} request: ${issues.join('; ')}` };
}

function headOf(raw: unknown): RequestHead {
  if (typeof raw !== 'object' || raw === null) return {};
  const record = raw as Record<string, unknown>;
  const head: RequestHead = {};
  if (typeof record.requestId === 'string' && record.requestId.length > 0 && record.requestId.length <= 64) {
    head.requestId = record.requestId;
  }
  if (typeof record.type === 'string') head.requestType = record.type.slice(0, 64);
  return head;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * mediasoup's own validation errors (TypeError, UnsupportedError) are the
 * client's fault: 40001 with mediasoup's explanation. Anything else is 50001.
 */
function isClientParameterError(error: unknown): error is Error {
  return error instanceof TypeError || (error instanceof Error && error.name === 'UnsupportedError');
}

function clientParameterError(error: unknown, what: string): unknown {
  if (isClientParameterError(error)) {
    return new AppError(ErrorCode.BadRequest, `${what}: ${error.message}`, { cause: error });
  }
  return error;
}

/**
 * The part of a client's capabilities mediasoup can match against this
 * producer: codecs with one of its media mime types, the RTX codecs bound
 * (apt) to those, and header extensions with one of its uri+id pairs.
 * mediasoup clones and validates the capabilities on every consume; trimming
 * them first gives the same answer for a fraction of the work (the full set
 * is ~4.5 KB).
 */
function relevantCapabilities(producer: types.Producer, capabilities: types.RtpCapabilities): types.RtpCapabilities {
  const consumable = producer.consumableRtpParameters;
  const mimeTypes = new Set(consumable.codecs.map((codec) => codec.mimeType.toLowerCase()));
  const extensions = new Set((consumable.headerExtensions ?? []).map((ext) => `${ext.id} ${ext.uri}`));
  const media = (capabilities.codecs ?? []).filter(
    (codec) => mimeTypes.has(codec.mimeType.toLowerCase()) && !isRtx(codec),
  );
  // without payload types to bind to, every RTX codec stays (mediasoup sorts it out)
  const payloadTypes = media.every((codec) => codec.preferredPayloadType !== undefined)
    ? new Set(media.map((codec) => codec.preferredPayloadType))
    : undefined;
  const rtx = (capabilities.codecs ?? []).filter(
    (codec) =>
      isRtx(codec) &&
      mimeTypes.has(codec.mimeType.toLowerCase()) &&
      (payloadTypes === undefined || payloadTypes.has(Number(codec.parameters?.apt))),
  );
  return {
    codecs: [...media, ...rtx],
    headerExtensions: (capabilities.headerExtensions ?? []).filter((ext) =>
      extensions.has(`${ext.preferredId} ${ext.uri}`),
    ),
  };
}

function isRtx(codec: { mimeType: string }): boolean {
  return /\/rtx$/i.test(codec.mimeType);
}

/** Simulcast/SVC consumers start on the producer's highest spatial and temporal layer. */
function highestLayers(producer: types.Producer): { preferredLayers?: types.ConsumerLayers } {
  if (producer.type === 'simple') return {};
  const encodings = producer.rtpParameters.encodings ?? [];
  const first = encodings[0];
  const mode = parseScalabilityMode(first?.scalabilityMode);
  const spatialLayer = producer.type === 'simulcast' ? encodings.length - 1 : mode.spatialLayers - 1;
  return { preferredLayers: { spatialLayer, temporalLayer: mode.temporalLayers - 1 } };
}

/** Says which codec the consumer's capabilities lack, so the client can tell the user. */
function describeConsumeMismatch(producer: types.Producer, capabilities: types.RtpCapabilities): string {
  const codecs = producer.consumableRtpParameters.codecs;
  const media = codecs.find((codec) => !/\/(rtx|red|ulpfec|flexfec)$/i.test(codec.mimeType)) ?? codecs[0];
  if (!media) return `Cannot consume producer ${producer.id}: it has no codec`;
  const name = `${media.mimeType}/${media.clockRate}`;
  const offered = (capabilities.codecs ?? []).filter(
    (codec) => codec.mimeType?.toLowerCase() === media.mimeType.toLowerCase() && codec.clockRate === media.clockRate,
  );
  if (offered.length === 0) {
    return `Cannot consume producer ${producer.id}: rtpCapabilities have no ${name} codec, which the producer sends`;
  }
  const parameters = Object.entries(media.parameters ?? {})
    .filter(([key]) => key === 'profile-level-id' || key === 'packetization-mode' || key === 'profile-id')
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(', ');
  return (
    `Cannot consume producer ${producer.id}: rtpCapabilities offer ${media.mimeType} but not a compatible ` +
    `variant${parameters ? ` (${parameters})` : ''}, or the capabilities are malformed`
  );
}

/**
 * Runs a mediasoup call on a producer or consumer that may go away while the
 * call is in flight (its peer left, its producer closed): that is the
 * client's stale id, answered with the not-found code, not an internal error.
 */
async function unlessGone<T>(gone: () => boolean, notFound: ErrorCode, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (gone()) throw new AppError(notFound, undefined, { cause: error });
    throw error;
  }
}

/** A consumer is gone once it closed or its producer left the room (the worker closes it right after). */
function consumerGone(room: Room, consumer: types.Consumer): () => boolean {
  return () => consumer.closed || !room.findProducer(consumer.producerId);
}
