// One participant's call: HTTP media-config + media-session, WebSocket
// signalling, a mediasoup-client Device with one send and one receive
// transport, the local producers and one consumer per remote producer.
// Follows the contract's "前端 SDK 接口约定" flow.
import { type Device, type types as ms, ortc } from 'mediasoup-client';
import { ErrorCode } from '../../shared/errors.js';
import type { IceServer, MediaSession } from '../../shared/protocol/http.js';
import type {
  AppData,
  BroadcastMessage,
  CloseCode,
  MediaKind,
  PeerSummary,
  RequestData,
  RequestType,
  ResponseData,
} from '../../shared/protocol/signalling.js';
import { createLoadedDevice, preloadDevice } from './device.js';
import { TypedEmitter } from './emitter.js';
import { CallError, ClientErrorCode, isMeetingEndedCode, toCallError } from './errors.js';
import { api, createMediaSession, getMediaConfig } from './http.js';
import {
  CAMERA_CONSTRAINTS,
  deviceName,
  type LocalMedia,
  mediaDeviceError,
  type PublishOptions,
  startLocalMedia,
} from './media.js';
import { type InboundFrame, SignallingClient } from './signalling.js';
import {
  type CallStats,
  candidatePair,
  candidatePairRttMs,
  inboundRtp,
  outboundVideoLayers,
  type RemoteAudioStats,
  type RemoteVideoStats,
  remoteInboundRttMs,
  StatsSampler,
} from './stats.js';

// Close codes the media host uses (typed against shared/protocol so a change there fails to compile).
const CLOSE_REPLACED: (typeof CloseCode)['ReplacedByNewConnection'] = 4001;
const CLOSE_MEETING_ENDED: (typeof CloseCode)['MeetingEnded'] = 4002;
const CLOSE_WORKER_DIED: (typeof CloseCode)['WorkerDied'] = 4003;
const CLOSE_HOST_SHUTDOWN: (typeof CloseCode)['HostShutdown'] = 4004;
const CLOSE_MEETING_MOVED: (typeof CloseCode)['MeetingMoved'] = 4005;
const CLOSE_JOIN_TIMEOUT: (typeof CloseCode)['JoinTimeout'] = 4006;
const CLOSE_POLICY: (typeof CloseCode)['PolicyViolation'] = 1008;

/** Why the host closed the socket, for the user (4002 meeting ended is handled on its own). */
const CLOSE_MESSAGES: Record<number, string> = {
  [CLOSE_REPLACED]: 'You joined this meeting from another tab or device, so this one was disconnected',
  [CLOSE_WORKER_DIED]: 'The media server handling this meeting failed',
  [CLOSE_HOST_SHUTDOWN]: 'The media server is restarting',
  [CLOSE_MEETING_MOVED]: 'The meeting moved to another media server',
  [CLOSE_JOIN_TIMEOUT]: 'The media server closed the connection because joining took too long',
  [CLOSE_POLICY]: 'Disconnected for sending too many requests',
};

/** Abnormal closure: the socket dropped without a close frame (network loss, host crash). */
const CLOSE_ABNORMAL = 1006;
/** Closes after which the call rejoins (on whichever host the control plane now names) instead of ending. */
const RECONNECTABLE_CLOSES = new Set<number>([
  CLOSE_WORKER_DIED,
  CLOSE_HOST_SHUTDOWN,
  CLOSE_MEETING_MOVED,
  CLOSE_ABNORMAL,
]);
/** Wait before each reconnect attempt; the call ends after the last one fails. */
const RECONNECT_DELAYS_MS = [500, 1000, 2000];

/** The contract's simulcast ladder (S1T3 each). */
export const CAMERA_ENCODINGS: ms.RtpEncodingParameters[] = [
  { rid: 'r0', maxBitrate: 100_000, scalabilityMode: 'S1T3', scaleResolutionDownBy: 4 },
  { rid: 'r1', maxBitrate: 300_000, scalabilityMode: 'S1T3', scaleResolutionDownBy: 2 },
  { rid: 'r2', maxBitrate: 1_500_000, scalabilityMode: 'S1T3', scaleResolutionDownBy: 1 },
];
export const MICROPHONE_CODEC_OPTIONS: ms.ProducerCodecOptions = { opusStereo: true, opusDtx: true, opusFec: true };

export type CallConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed' | 'closed';
type TransportState = ms.ConnectionState | 'none';

export interface ConnectionStateInfo {
  state: CallConnectionState;
  signalling: 'connecting' | 'open' | 'closed';
  sendTransport: TransportState;
  recvTransport: TransportState;
}

export interface RemotePeerInfo {
  peerId: string;
  userId: string;
  nickname: string;
}

export interface RemoteTrack {
  peerId: string;
  nickname: string;
  kind: MediaKind;
  track: MediaStreamTrack;
  consumerId: string;
  producerId: string;
  appData: AppData;
  /** the remote side has muted this producer */
  producerPaused: boolean;
}

export interface RemotePeer extends RemotePeerInfo {
  tracks: RemoteTrack[];
}

export type CloseReason = 'left' | 'meetingEnded' | 'replaced' | 'failed';

/** Timing marks, performance.now() ms, for the join-latency benchmark. */
export type CallMark =
  | 'joinStart'
  | 'localMediaReady'
  | 'mediaConfigDone'
  | 'mediaSessionDone'
  | 'wsOpen'
  | 'joined'
  | 'deviceLoaded'
  | 'transportsCreated'
  | 'sendTransportConnected'
  | 'recvTransportConnected'
  | 'firstTrackAdded'
  | 'published'
  | 'joinDone';

export interface CallEvents {
  /** `existing` is true for peers that were already in the room when we joined */
  peerJoined: RemotePeerInfo & { existing: boolean };
  peerLeft: RemotePeerInfo;
  trackAdded: RemoteTrack;
  trackRemoved: { peerId: string; kind: MediaKind; consumerId: string; producerId: string };
  producerPaused: { peerId: string; producerId: string; kind: MediaKind | null };
  producerResumed: { peerId: string; producerId: string; kind: MediaKind | null };
  layersChanged: { peerId: string; consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  localMuteChanged: { kind: MediaKind; muted: boolean };
  /** own camera/microphone stream, once acquired (and again when a device is added later) */
  localStream: { stream: MediaStream };
  meetingEnded: { meetingId: string; endedBy: string; endedAt: string };
  connectionStateChanged: ConnectionStateInfo;
  /** every signalling frame received (rtc:* replies, broadcasts and errors) */
  signal: InboundFrame;
  /** every signalling request sent */
  signalSent: { type: string; requestId: string };
  closed: { reason: CloseReason };
  error: CallError;
}

export type CallListeners = { [E in keyof CallEvents]: (payload: CallEvents[E]) => void };

export interface JoinOptions {
  /** control plane origin, e.g. `location.origin` */
  baseUrl: string;
  accessToken: string;
  meetingId: string;
  /** own display name, kept locally (the media host takes it from the access token) */
  nickname?: string;
  iceTransportPolicy?: 'all' | 'relay';
  /** what to publish; both default to true */
  publish?: PublishOptions;
  /** publish these tracks instead of calling getUserMedia; the caller keeps ownership (not stopped on leave) */
  mediaStream?: MediaStream;
  /**
   * A startLocalMedia() already running (e.g. started at the click, so the devices
   * warm up during the HTTP calls); the call takes ownership of its tracks.
   */
  localMedia?: Promise<LocalMedia>;
  /** attached before anything happens, so no early event (trackAdded of peers already in the room) is missed */
  listeners?: Partial<CallListeners>;
  /** ms per signalling request (default 10000) */
  requestTimeoutMs?: number;
  /**
   * Send rtc:getRouterRtpCapabilities and both rtc:createTransport right behind
   * rtc:join instead of waiting for rtc:joined (saves one round trip). A host
   * that refuses them before the join completes is asked again afterwards.
   */
  pipelineJoin?: boolean;
}

interface PeerEntry extends RemotePeerInfo {
  producers: Map<string, { kind: MediaKind; paused: boolean }>;
}

interface ConsumerEntry {
  consumer: ms.Consumer;
  peerId: string;
  producerId: string;
  kind: MediaKind;
  appData: AppData;
  producerPaused: boolean;
  spatialLayer: number | null;
  temporalLayer: number | null;
  preferredSpatialLayer: number | null;
  /** started on the lowest simulcast layer; raised once the first layer is forwarded */
  fastStart: boolean;
}

/** Highest spatial layer a consumer is raised to after its fast start (r2). */
const TOP_SPATIAL_LAYER = 2;

type TransportInfo = ResponseData<'rtc:transportCreated'>;

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class Call extends TypedEmitter<CallEvents> {
  readonly meetingId: string;
  readonly nickname: string | undefined;
  /** timing marks, performance.now() ms */
  readonly marks: Partial<Record<CallMark, number>> = {};

  readonly #options: JoinOptions;
  #signalling: SignallingClient | null = null;
  #device: Device | null = null;
  #sendTransport: ms.Transport | null = null;
  #recvTransport: ms.Transport | null = null;
  #recvReady = deferred<ms.Transport>();
  readonly #producers = new Map<MediaKind, ms.Producer>();
  readonly #consumers = new Map<string, ConsumerEntry>();
  readonly #peers = new Map<string, PeerEntry>();
  /** producers being consumed right now, to drop duplicates (rtc:joined + rtc:newProducer) */
  readonly #consuming = new Set<string>();
  /** producers closed while their consume was in flight */
  readonly #closedProducers = new Set<string>();
  readonly #sampler = new StatsSampler();
  #iceServers: IceServer[] = [];
  #iceServersPromise: Promise<IceServer[]> = Promise.resolve([]);
  #peerId: string | null = null;
  #localStream: MediaStream | null = null;
  #ownsLocalStream = false;
  #joinStarted = false;
  #joinDone = false;
  #closeReason: CloseReason | null = null;
  #signallingState: ConnectionStateInfo['signalling'] = 'connecting';
  #lastState: string | null = null;
  #reconnecting = false;
  /** bumped whenever the media session is dropped, so work started for an older one stops quietly */
  #session = 0;

  constructor(options: JoinOptions) {
    super();
    this.#options = options;
    this.meetingId = options.meetingId;
    this.nickname = options.nickname;
    for (const [event, listener] of Object.entries(options.listeners ?? {})) {
      if (listener) this.on(event as keyof CallEvents, listener as (payload: unknown) => void);
    }
  }

  // ---- public state ----

  /** own peer id in the room, once joined */
  get peerId(): string | null {
    return this.#peerId;
  }

  get localStream(): MediaStream | null {
    return this.#localStream;
  }

  get peers(): RemotePeer[] {
    return [...this.#peers.values()].map((peer) => ({
      peerId: peer.peerId,
      userId: peer.userId,
      nickname: peer.nickname,
      tracks: [...this.#consumers.values()].filter((c) => c.peerId === peer.peerId).map((c) => this.#remoteTrack(c)),
    }));
  }

  get connectionState(): ConnectionStateInfo {
    return {
      state: this.#aggregateState(),
      signalling: this.#signallingState,
      sendTransport: this.#sendTransport ? this.#sendTransport.connectionState : 'none',
      recvTransport: this.#recvTransport ? this.#recvTransport.connectionState : 'none',
    };
  }

  get closed(): boolean {
    return this.#closeReason !== null;
  }

  isMuted(kind: MediaKind): boolean {
    const producer = this.#producers.get(kind);
    return !producer || producer.paused;
  }

  isPublishing(kind: MediaKind): boolean {
    return this.#producers.has(kind);
  }

  // ---- join ----

  /** Runs the whole join. Rejects with a CallError (and closes the call) on failure. */
  async join(): Promise<this> {
    if (this.#joinStarted) throw new CallError(ErrorCode.BadRequest, 'join() was already called');
    this.#joinStarted = true;
    this.#mark('joinStart');
    this.#emitState();

    // The browser's capabilities, the camera and the microphone warm up while the HTTP and WS steps run.
    void preloadDevice();
    const mediaPromise = this.#acquireLocalMedia();
    mediaPromise.catch(() => {});

    try {
      await this.#connect();

      // Receiving does not wait for our own camera; the two run side by side.
      const consumingExisting = this.#consumeKnownProducers();
      const localMedia = await mediaPromise;
      this.#assertOpen();
      await Promise.all([this.#publish(localMedia), consumingExisting]);
      this.#assertOpen();
      this.#joinDone = true;
      this.#mark('joinDone');
      this.#emitState();
      return this;
    } catch (error) {
      const callError = toCallError(error);
      if (!this.closed) {
        this.#teardown(isMeetingEndedCode(callError.code) ? 'meetingEnded' : 'failed');
      } else {
        // A failed join must not leave a camera on even when leave() raced it.
        mediaPromise.then((stream) => this.#stopOwnedTracks(stream)).catch(() => {});
      }
      throw callError;
    }
  }

  /** media-config + media-session, then the socket, rtc:join, the device and both transports. */
  async #connect(): Promise<void> {
    const { baseUrl, accessToken, meetingId } = this.#options;
    // media-config is only needed when the transports are created; the WebSocket opens as soon as
    // media-session answers.
    const configPromise = getMediaConfig(baseUrl, accessToken, meetingId).then((config) => {
      this.#mark('mediaConfigDone');
      return config;
    });
    configPromise.catch(() => {});
    const session: MediaSession = await createMediaSession(baseUrl, accessToken, meetingId);
    this.#mark('mediaSessionDone');
    this.#iceServersPromise = configPromise.then((config) =>
      config.iceServers.length > 0 ? config.iceServers : session.iceServers,
    );
    this.#iceServersPromise.catch(() => {});
    this.#assertOpen();

    const signalling = await SignallingClient.open(session.signalingUrl, {
      ...(this.#options.requestTimeoutMs ? { requestTimeoutMs: this.#options.requestTimeoutMs } : {}),
    });
    if (this.closed) {
      signalling.close();
      this.#assertOpen();
    }
    this.#attachSignalling(signalling);
    this.#mark('wsOpen');
    await this.#joinRoom(signalling);
  }

  async #joinRoom(signalling: SignallingClient): Promise<void> {
    const meetingId = this.meetingId;
    const joinPromise = signalling.request('rtc:join', { meetingId });
    joinPromise.catch(() => {});

    const afterJoin = <T>(run: () => Promise<T>): Promise<T> => {
      if (this.#options.pipelineJoin === false) return joinPromise.then(run);
      const early = run().then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      return joinPromise.then(async () => {
        const outcome = await early;
        if (outcome.ok) return outcome.value;
        // Only a refusal from the host (4xxxx, not 42901) may mean "asked before the join completed".
        const { error } = outcome;
        const refusedBeforeJoin =
          error instanceof CallError &&
          error.code >= 40000 &&
          error.code < 50000 &&
          error.code !== ErrorCode.RateLimited;
        if (!refusedBeforeJoin) throw error;
        return run();
      });
    };

    const capabilitiesPromise = afterJoin(() => signalling.request('rtc:getRouterRtpCapabilities', { meetingId }));
    const sendInfoPromise = afterJoin(() =>
      signalling.request('rtc:createTransport', { meetingId, direction: 'send' }),
    );
    const recvInfoPromise = afterJoin(() =>
      signalling.request('rtc:createTransport', { meetingId, direction: 'recv' }),
    );
    for (const p of [capabilitiesPromise, sendInfoPromise, recvInfoPromise]) p.catch(() => {});

    const joined = await joinPromise;
    this.#mark('joined');
    this.#peerId = joined.peerId;
    for (const summary of joined.peers) this.#addPeer(summary, true);

    const { rtpCapabilities } = await capabilitiesPromise;
    this.#assertOpen();
    const device = await createLoadedDevice(rtpCapabilities as unknown as ms.RtpCapabilities);
    this.#device = device;
    this.#mark('deviceLoaded');

    const [sendInfo, recvInfo, iceServers] = await Promise.all([
      sendInfoPromise,
      recvInfoPromise,
      this.#iceServersPromise,
    ]);
    this.#iceServers = iceServers;
    this.#assertOpen();
    this.#sendTransport = this.#createTransport(device, 'send', sendInfo);
    this.#recvTransport = this.#createTransport(device, 'recv', recvInfo);
    this.#recvReady.resolve(this.#recvTransport);
    this.#mark('transportsCreated');
  }

  #createTransport(device: Device, direction: 'send' | 'recv', info: TransportInfo): ms.Transport {
    const options: ms.TransportOptions = {
      id: info.transportId,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates as unknown as ms.IceCandidate[],
      dtlsParameters: info.dtlsParameters as ms.DtlsParameters,
      iceServers: this.#iceServers as RTCIceServer[],
      iceTransportPolicy: this.#options.iceTransportPolicy ?? 'all',
    };
    const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);

    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#request('rtc:connectTransport', {
        meetingId: this.meetingId,
        transportId: transport.id,
        dtlsParameters: dtlsParameters as RequestData<'rtc:connectTransport'>['dtlsParameters'],
      }).then(() => callback(), errback);
    });

    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.#request('rtc:produce', {
          meetingId: this.meetingId,
          transportId: transport.id,
          kind,
          rtpParameters: rtpParameters as unknown as RequestData<'rtc:produce'>['rtpParameters'],
          appData: appData as AppData,
        }).then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }

    transport.on('connectionstatechange', (state) => {
      if (state === 'connected') {
        this.#mark(direction === 'send' ? 'sendTransportConnected' : 'recvTransportConnected');
      }
      this.#emitState();
    });
    return transport;
  }

  // ---- local media ----

  async #acquireLocalMedia(): Promise<MediaStream | null> {
    const { publish = {}, mediaStream, localMedia } = this.#options;
    if (mediaStream) {
      this.#localStream = mediaStream;
      this.emit('localStream', { stream: mediaStream });
      return mediaStream;
    }
    const { stream, errors } = await (localMedia ?? startLocalMedia(publish));
    for (const error of errors) this.#reportError(error);
    if (!stream) return null;
    if (this.closed) {
      for (const track of stream.getTracks()) track.stop();
      return null;
    }
    this.#localStream = stream;
    this.#ownsLocalStream = true;
    this.#mark('localMediaReady');
    this.emit('localStream', { stream });
    return stream;
  }

  async #publish(stream: MediaStream | null): Promise<void> {
    if (!stream) return;
    // Video first: it is what the other side waits for to show a first frame.
    const video = stream.getVideoTracks()[0];
    const audio = stream.getAudioTracks()[0];
    if (video) await this.#produce('video', video);
    if (audio) await this.#produce('audio', audio);
    this.#mark('published');
  }

  async #produce(kind: MediaKind, track: MediaStreamTrack): Promise<void> {
    const transport = this.#sendTransport;
    const device = this.#device;
    if (!transport || !device || this.closed) return;
    if (!device.canProduce(kind)) {
      this.#reportError(
        new CallError(
          ClientErrorCode.UnsupportedCodec,
          `This browser can't send ${kind}: none of its ${kind} codecs is enabled on the media server`,
        ),
      );
      return;
    }
    try {
      const producer =
        kind === 'video'
          ? await transport.produce({
              track,
              encodings: CAMERA_ENCODINGS,
              codecOptions: { videoGoogleStartBitrate: 1000 },
              stopTracks: false,
              appData: { source: 'camera' },
            })
          : await transport.produce({
              track,
              codecOptions: MICROPHONE_CODEC_OPTIONS,
              stopTracks: false,
              appData: { source: 'microphone' },
            });
      this.#producers.set(kind, producer);
      producer.on('transportclose', () => this.#producers.delete(kind));
      producer.on('trackended', () => {
        this.#reportError(new CallError(ClientErrorCode.MediaDevice, `Your ${deviceName(kind)} stopped working`));
      });
    } catch (error) {
      if (this.closed || transport !== this.#sendTransport) return;
      this.#reportError(withContext(error, `Could not publish your ${deviceName(kind)}`));
    }
  }

  // ---- remote media ----

  #addPeer(summary: Omit<PeerSummary, 'producers'> & { producers?: PeerSummary['producers'] }, existing: boolean) {
    let peer = this.#peers.get(summary.peerId);
    if (!peer) {
      peer = { peerId: summary.peerId, userId: summary.userId, nickname: summary.nickname, producers: new Map() };
      this.#peers.set(peer.peerId, peer);
      this.emit('peerJoined', { peerId: peer.peerId, userId: peer.userId, nickname: peer.nickname, existing });
    } else {
      peer.userId = summary.userId;
      peer.nickname = summary.nickname;
    }
    for (const producer of summary.producers ?? []) {
      peer.producers.set(producer.id, { kind: producer.kind, paused: producer.paused ?? false });
    }
  }

  async #consumeKnownProducers(): Promise<void> {
    const known: Array<{ peerId: string; producerId: string; kind: MediaKind }> = [];
    for (const peer of this.#peers.values()) {
      for (const [producerId, producer] of peer.producers)
        known.push({ peerId: peer.peerId, producerId, kind: producer.kind });
    }
    // All rtc:consume requests go out at once; the local consumers are then created in the same tick,
    // so mediasoup-client negotiates them in one SDP round instead of one per track.
    const allReplied = deferred<void>();
    let waiting = known.length;
    const batch = {
      ready: allReplied.promise,
      replied: () => {
        waiting -= 1;
        if (waiting <= 0) allReplied.resolve();
      },
    };
    if (waiting === 0) allReplied.resolve();
    await Promise.all(known.map(({ peerId, producerId, kind }) => this.#consume(peerId, producerId, kind, batch)));
  }

  /**
   * rtc:consume -> recvTransport.consume -> trackAdded -> rtc:resumeConsumer. Never throws.
   * With `batch`, calls batch.replied() once its rtc:consume settled and creates the local
   * consumer only when batch.ready resolves.
   */
  async #consume(
    peerId: string,
    producerId: string,
    kind: MediaKind,
    batch?: { ready: Promise<void>; replied: () => void },
  ): Promise<void> {
    let replied = false;
    const markReplied = () => {
      if (replied) return;
      replied = true;
      batch?.replied();
    };
    if (this.#consuming.has(producerId) || this.#consumerByProducer(producerId)) {
      markReplied();
      return;
    }
    this.#consuming.add(producerId);
    const session = this.#session;
    const stale = () => this.closed || session !== this.#session;
    try {
      const transport = await this.#recvReady.promise;
      const device = this.#device;
      if (stale() || !device || this.#closedProducers.has(producerId)) return;
      const rtpCapabilities = device.recvRtpCapabilities;
      let reply: ResponseData<'rtc:consumed'>;
      try {
        reply = await this.#request('rtc:consume', {
          meetingId: this.meetingId,
          producerId,
          rtpCapabilities: rtpCapabilities as RequestData<'rtc:consume'>['rtpCapabilities'],
        });
      } catch (error) {
        if (error instanceof CallError && error.code === ErrorCode.ProducerNotFound) return; // closed meanwhile
        // The host answers 40001 "Cannot consume ... no video/VP9/90000 codec" when router.canConsume fails.
        if (
          error instanceof CallError &&
          error.code === ErrorCode.BadRequest &&
          /cannot consume/i.test(error.message)
        ) {
          const codec = /(?:no|offer) ((?:audio|video)\/[\w-]+)/i.exec(error.message)?.[1];
          throw new CallError(
            ClientErrorCode.UnsupportedCodec,
            `Can't receive ${this.#nicknameOf(peerId)}'s ${kind}: this browser can't decode ${codec ?? `the ${kind} codec it is sent with`} (it supports ${codecList(rtpCapabilities, kind)})`,
            { requestType: 'rtc:consume', cause: error },
          );
        }
        throw error;
      } finally {
        markReplied();
      }
      const rtpParameters = reply.rtpParameters as unknown as ms.RtpParameters;
      if (!ortc.canReceive(rtpParameters, rtpCapabilities)) {
        const codec = rtpParameters.codecs[0]?.mimeType ?? 'unknown codec';
        throw new CallError(
          ClientErrorCode.UnsupportedCodec,
          `Can't receive ${this.#nicknameOf(peerId)}'s ${kind}: this browser cannot decode ${codec}`,
        );
      }
      if (batch) await batch.ready;
      if (stale() || this.#closedProducers.has(producerId)) return;
      const consumer = await transport.consume({
        id: reply.consumerId,
        producerId,
        kind: reply.kind,
        rtpParameters,
        streamId: `${peerId}-stream`,
        appData: { ...reply.appData, peerId },
      });
      if (stale() || this.#closedProducers.has(producerId)) {
        consumer.close();
        return;
      }
      const entry: ConsumerEntry = {
        consumer,
        peerId: reply.peerId || peerId,
        producerId,
        kind: reply.kind,
        appData: reply.appData,
        producerPaused: reply.producerPaused,
        spatialLayer: null,
        temporalLayer: null,
        preferredSpatialLayer: null,
        fastStart: reply.kind === 'video' && reply.type === 'simulcast',
      };
      this.#consumers.set(consumer.id, entry);
      consumer.on('transportclose', () => this.#consumers.delete(consumer.id));
      this.#mark('firstTrackAdded');
      this.emit('trackAdded', this.#remoteTrack(entry));
      if (entry.fastStart) {
        // Fast start: r0's keyframe is small and r0 is always sent, so the first picture comes sooner than
        // when the host waits for a keyframe on the top layer. Sent ahead of the resume (the host answers
        // in order), without waiting for its reply; raised to r2 when the first layer is forwarded.
        this.#request('rtc:setPreferredLayers', {
          meetingId: this.meetingId,
          consumerId: consumer.id,
          spatialLayer: 0,
        }).catch(() => {});
      }
      await this.#request('rtc:resumeConsumer', { meetingId: this.meetingId, consumerId: consumer.id });
    } catch (error) {
      if (stale()) return;
      if (error instanceof CallError && error.code === ErrorCode.ConsumerNotFound) return; // closed meanwhile
      this.#reportError(withContext(error, `Could not receive ${this.#nicknameOf(peerId)}'s ${kind}`));
    } finally {
      markReplied();
      if (session === this.#session) this.#consuming.delete(producerId);
    }
  }

  #consumerByProducer(producerId: string): ConsumerEntry | undefined {
    for (const entry of this.#consumers.values()) if (entry.producerId === producerId) return entry;
    return undefined;
  }

  #closeConsumer(entry: ConsumerEntry): void {
    this.#consumers.delete(entry.consumer.id);
    entry.consumer.close();
    this.#sampler.forget(entry.consumer.id);
    this.emit('trackRemoved', {
      peerId: entry.peerId,
      kind: entry.kind,
      consumerId: entry.consumer.id,
      producerId: entry.producerId,
    });
  }

  #remoteTrack(entry: ConsumerEntry): RemoteTrack {
    return {
      peerId: entry.peerId,
      nickname: this.#nicknameOf(entry.peerId),
      kind: entry.kind,
      track: entry.consumer.track,
      consumerId: entry.consumer.id,
      producerId: entry.producerId,
      appData: entry.appData,
      producerPaused: entry.producerPaused,
    };
  }

  #nicknameOf(peerId: string): string {
    return this.#peers.get(peerId)?.nickname || 'a participant';
  }

  // ---- signalling ----

  #attachSignalling(signalling: SignallingClient): void {
    this.#signalling = signalling;
    this.#signallingState = 'open';
    signalling.on('frame', (frame) => this.emit('signal', frame));
    signalling.on('sent', (sent) => this.emit('signalSent', sent));
    signalling.on('broadcast', (message) => this.#onBroadcast(message));
    signalling.on('unsolicitedError', (reply) => {
      this.#reportError(
        new CallError(reply.code, reply.error, reply.requestType ? { requestType: reply.requestType } : {}),
      );
    });
    signalling.on('close', ({ code, byUs }) => {
      this.#signallingState = 'closed';
      if (byUs || this.closed) return;
      this.#onSignallingLost(code);
    });
  }

  #onSignallingLost(code: number): void {
    if (this.#reconnecting) return; // the running attempt fails on its own and the next one starts
    if (RECONNECTABLE_CLOSES.has(code) && this.#joinDone) {
      void this.#reconnect(code);
      return;
    }
    if (code === CLOSE_MEETING_ENDED) {
      this.emit('meetingEnded', { meetingId: this.meetingId, endedBy: '', endedAt: new Date().toISOString() });
      this.#teardown('meetingEnded');
      return;
    }
    const message = CLOSE_MESSAGES[code] ?? `Lost the connection to the media server (close ${code})`;
    this.#reportError(new CallError(ClientErrorCode.SignallingClosed, message));
    this.#teardown(code === CLOSE_REPLACED ? 'replaced' : 'failed');
  }

  /**
   * The one recovery path for a lost media session: rejoin and ask the control plane for a media session again
   * (it names the host now serving the meeting), rejoin, re-publish the same local tracks and
   * re-consume everyone. Old peers and tracks are removed first, so a UI rebuilds them from the events.
   */
  async #reconnect(closeCode: number): Promise<void> {
    this.#reconnecting = true;
    const published = [...this.#producers.entries()].map(([kind, producer]) => ({
      kind,
      track: producer.track,
      paused: producer.paused,
    }));
    this.#dropSession();
    this.#emitState();
    let lastError: CallError | null = null;
    for (const delayMs of RECONNECT_DELAYS_MS) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (this.closed) return;
      try {
        // The host records a dropped user as left, and media-session refuses a user who has left;
        // POST /join (REQ-002's rejoin) makes us a participant again.
        await api(this.#options.baseUrl, this.#options.accessToken).joinMeeting(this.meetingId);
        this.#assertOpen();
        await this.#connect();
        await Promise.all([this.#republish(published), this.#consumeKnownProducers()]);
        this.#assertOpen();
        if (this.#signalling?.closed !== false) {
          throw new CallError(ClientErrorCode.SignallingClosed, 'The connection dropped again while rejoining');
        }
        this.#reconnecting = false;
        this.#emitState();
        return;
      } catch (error) {
        if (this.closed) return;
        lastError = toCallError(error);
        this.#dropSession();
        if (isMeetingEndedCode(lastError.code)) {
          this.#reconnecting = false;
          this.#teardown('meetingEnded');
          return;
        }
      }
    }
    this.#reconnecting = false;
    const why = CLOSE_MESSAGES[closeCode] ?? `Lost the connection to the media server (close ${closeCode})`;
    this.#reportError(
      new CallError(
        lastError?.code ?? ClientErrorCode.SignallingClosed,
        `${why}, and rejoining failed ${RECONNECT_DELAYS_MS.length} times (last error: ${lastError?.message ?? 'unknown'})`,
      ),
    );
    this.#teardown('failed');
  }

  /** Forgets the current media session: socket, transports, producers, consumers and peers (with events). */
  #dropSession(): void {
    this.#session += 1;
    for (const entry of [...this.#consumers.values()]) this.#closeConsumer(entry);
    for (const peer of [...this.#peers.values()]) {
      this.#peers.delete(peer.peerId);
      this.emit('peerLeft', { peerId: peer.peerId, userId: peer.userId, nickname: peer.nickname });
    }
    this.#consuming.clear();
    this.#closedProducers.clear();
    // Producers were created with stopTracks: false, so closing the send transport keeps the tracks live.
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = null;
    this.#recvTransport = null;
    this.#producers.clear();
    this.#device = null;
    this.#recvReady.reject(new CallError(ClientErrorCode.CallClosed, 'The media session was replaced'));
    this.#recvReady = deferred<ms.Transport>();
    const signalling = this.#signalling;
    this.#signalling = null;
    signalling?.close(1000, 'reconnecting');
    this.#signallingState = 'connecting';
    this.#peerId = null;
  }

  /** Publishes the tracks of the previous session again, keeping their mute state. */
  async #republish(published: Array<{ kind: MediaKind; track: MediaStreamTrack | null; paused: boolean }>) {
    for (const { kind, track, paused } of published) {
      if (!track || track.readyState === 'ended') continue;
      await this.#produce(kind, track);
      const producer = this.#producers.get(kind);
      if (!producer || !paused) continue;
      producer.pause();
      await this.#request('rtc:pauseProducer', { meetingId: this.meetingId, producerId: producer.id });
    }
  }

  #onBroadcast(message: BroadcastMessage): void {
    if (this.closed) return;
    switch (message.type) {
      case 'rtc:peerJoined': {
        const data = message.data as BroadcastMessage<'rtc:peerJoined'>['data'];
        this.#addPeer(data, false);
        return;
      }
      case 'rtc:peerLeft': {
        const data = message.data as BroadcastMessage<'rtc:peerLeft'>['data'];
        const peer = this.#peers.get(data.peerId);
        for (const entry of [...this.#consumers.values()]) if (entry.peerId === data.peerId) this.#closeConsumer(entry);
        if (peer) {
          for (const producerId of peer.producers.keys()) this.#closedProducers.add(producerId);
          this.#peers.delete(data.peerId);
          this.emit('peerLeft', { peerId: peer.peerId, userId: peer.userId, nickname: peer.nickname });
        }
        return;
      }
      case 'rtc:newProducer': {
        const data = message.data as BroadcastMessage<'rtc:newProducer'>['data'];
        let peer = this.#peers.get(data.peerId);
        if (!peer) {
          this.#addPeer({ peerId: data.peerId, userId: data.peerId, nickname: '' }, false);
          peer = this.#peers.get(data.peerId);
        }
        peer?.producers.set(data.producerId, { kind: data.kind, paused: data.paused ?? false });
        void this.#consume(data.peerId, data.producerId, data.kind);
        return;
      }
      case 'rtc:producerClosed': {
        const data = message.data as BroadcastMessage<'rtc:producerClosed'>['data'];
        this.#closedProducers.add(data.producerId);
        this.#peers.get(data.peerId)?.producers.delete(data.producerId);
        const entry = this.#consumerByProducer(data.producerId);
        if (entry) this.#closeConsumer(entry);
        return;
      }
      case 'rtc:consumerClosed': {
        const data = message.data as BroadcastMessage<'rtc:consumerClosed'>['data'];
        const entry = this.#consumers.get(data.consumerId);
        if (entry) this.#closeConsumer(entry);
        return;
      }
      case 'rtc:producerPaused':
      case 'rtc:producerResumed': {
        const data = message.data as BroadcastMessage<'rtc:producerPaused'>['data'];
        const paused = message.type === 'rtc:producerPaused';
        const known = this.#peers.get(data.peerId)?.producers.get(data.producerId);
        if (known) known.paused = paused;
        const entry = this.#consumerByProducer(data.producerId);
        if (entry) entry.producerPaused = paused;
        const payload = { peerId: data.peerId, producerId: data.producerId, kind: entry?.kind ?? known?.kind ?? null };
        this.emit(paused ? 'producerPaused' : 'producerResumed', payload);
        return;
      }
      case 'rtc:consumerLayersChanged': {
        const data = message.data as BroadcastMessage<'rtc:consumerLayersChanged'>['data'];
        const entry = this.#consumers.get(data.consumerId);
        if (!entry) return;
        entry.spatialLayer = data.spatialLayer;
        entry.temporalLayer = data.temporalLayer;
        if (entry.fastStart && data.spatialLayer !== null) {
          entry.fastStart = false;
          this.#request('rtc:setPreferredLayers', {
            meetingId: this.meetingId,
            consumerId: data.consumerId,
            spatialLayer: entry.preferredSpatialLayer ?? TOP_SPATIAL_LAYER,
          }).catch(() => {});
        }
        this.emit('layersChanged', {
          peerId: entry.peerId,
          consumerId: data.consumerId,
          spatialLayer: data.spatialLayer,
          temporalLayer: data.temporalLayer,
        });
        return;
      }
      case 'rtc:meetingEnded': {
        const data = message.data as BroadcastMessage<'rtc:meetingEnded'>['data'];
        this.emit('meetingEnded', data);
        this.#teardown('meetingEnded');
        return;
      }
      default:
        return;
    }
  }

  #request<T extends RequestType>(type: T, data: RequestData<T>) {
    const signalling = this.#signalling;
    if (!signalling || this.closed) {
      return Promise.reject(new CallError(ClientErrorCode.CallClosed, 'The call is closed'));
    }
    return signalling.request(type, data);
  }

  // ---- controls ----

  /** Pauses the local producer and tells the others (rtc:pauseProducer). */
  async mute(kind: MediaKind): Promise<void> {
    const producer = this.#producers.get(kind);
    if (!producer || producer.paused || this.closed) return;
    producer.pause();
    this.emit('localMuteChanged', { kind, muted: true });
    await this.#request('rtc:pauseProducer', { meetingId: this.meetingId, producerId: producer.id });
  }

  /** Resumes the local producer (rtc:resumeProducer); publishes the device first if it was never published. */
  async unmute(kind: MediaKind): Promise<void> {
    if (this.closed) return;
    const producer = this.#producers.get(kind);
    if (!producer) {
      await this.#publishLate(kind);
      return;
    }
    if (!producer.paused) return;
    producer.resume();
    this.emit('localMuteChanged', { kind, muted: false });
    await this.#request('rtc:resumeProducer', { meetingId: this.meetingId, producerId: producer.id });
  }

  async #publishLate(kind: MediaKind): Promise<void> {
    if (!this.#joinDone) return;
    let track: MediaStreamTrack | undefined;
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        kind === 'audio' ? { audio: true } : { video: CAMERA_CONSTRAINTS },
      );
      track = stream.getTracks()[0];
    } catch (error) {
      this.#reportError(mediaDeviceError(kind, error));
      return;
    }
    if (!track || this.closed) {
      track?.stop();
      return;
    }
    if (!this.#localStream) {
      this.#localStream = new MediaStream();
      this.#ownsLocalStream = true;
    }
    this.#localStream.addTrack(track);
    this.emit('localStream', { stream: this.#localStream });
    await this.#produce(kind, track);
    if (this.#producers.has(kind)) this.emit('localMuteChanged', { kind, muted: false });
  }

  /** Asks the media host to forward `spatialLayer` (0 = r0 .. 2 = r2) of that peer's camera. */
  async setPreferredLayer(peerId: string, spatialLayer: number): Promise<void> {
    const layer = Math.max(0, Math.min(2, Math.round(spatialLayer)));
    const entries = [...this.#consumers.values()].filter((c) => c.peerId === peerId && c.kind === 'video');
    await Promise.all(
      entries.map(async (entry) => {
        entry.preferredSpatialLayer = layer;
        entry.fastStart = false;
        await this.#request('rtc:setPreferredLayers', {
          meetingId: this.meetingId,
          consumerId: entry.consumer.id,
          spatialLayer: layer,
        });
      }),
    );
  }

  /** Leaves the room (rtc:leave), closes transports and the socket, stops own tracks. Idempotent. */
  async leave(): Promise<void> {
    if (this.closed) return;
    const signalling = this.#signalling;
    if (signalling && !signalling.closed && this.#peerId) {
      try {
        await signalling.request('rtc:leave', { meetingId: this.meetingId }, { timeoutMs: 2000 });
      } catch {
        // leaving anyway: closing the socket also ends the session on the host
      }
    }
    this.#teardown('left');
  }

  /** Drops the signalling socket as a network failure would (close 1006), to exercise reconnection. */
  simulateConnectionDrop(): void {
    this.#signalling?.abort();
  }

  // ---- stats ----

  /** Numbers for a call UI: per remote video/audio and per local simulcast layer. */
  async getStats(): Promise<CallStats> {
    const recvReport = this.#recvTransport ? await this.#recvTransport.getStats().catch(() => null) : null;
    const sendTransportReport = this.#sendTransport ? await this.#sendTransport.getStats().catch(() => null) : null;
    const recvRtt = recvReport ? candidatePairRttMs(recvReport) : null;
    const remoteVideo: RemoteVideoStats[] = [];
    const remoteAudio: RemoteAudioStats[] = [];
    await Promise.all(
      [...this.#consumers.values()].map(async (entry) => {
        const report = await entry.consumer.getStats().catch(() => null);
        const inbound = report ? inboundRtp(report, entry.kind) : null;
        if (!inbound) return;
        const { bitrateKbps, packetLossPct } = this.#sampler.delta(entry.consumer.id, {
          timestamp: inbound.timestamp,
          bytes: inbound.bytesReceived,
          packetsReceived: inbound.packetsReceived,
          packetsLost: inbound.packetsLost,
        });
        const base = { peerId: entry.peerId, consumerId: entry.consumer.id, producerId: entry.producerId };
        if (entry.kind === 'audio') {
          remoteAudio.push({
            ...base,
            bitrateKbps,
            packetsReceived: inbound.packetsReceived,
            packetLossPct,
            rttMs: recvRtt,
          });
          return;
        }
        remoteVideo.push({
          ...base,
          bitrateKbps,
          spatialLayer: entry.spatialLayer,
          temporalLayer: entry.temporalLayer,
          preferredSpatialLayer: entry.preferredSpatialLayer,
          frameWidth: inbound.frameWidth,
          frameHeight: inbound.frameHeight,
          framesPerSecond: inbound.framesPerSecond,
          framesDecoded: inbound.framesDecoded,
          packetsReceived: inbound.packetsReceived,
          packetLossPct,
          rttMs: recvRtt,
        });
      }),
    );
    const videoProducer = this.#producers.get('video');
    const sendReport = videoProducer ? await videoProducer.getStats().catch(() => null) : null;
    return {
      remoteVideo,
      remoteAudio,
      localVideo: sendReport ? outboundVideoLayers(sendReport, this.#sampler, 'local-video') : [],
      sendRttMs: sendReport ? remoteInboundRttMs(sendReport) : null,
      sendPair: sendTransportReport ? candidatePair(sendTransportReport) : null,
      recvPair: recvReport ? candidatePair(recvReport) : null,
    };
  }

  // ---- lifecycle ----

  #teardown(reason: CloseReason): void {
    if (this.#closeReason) return;
    this.#closeReason = reason;
    this.#recvReady.reject(new CallError(ClientErrorCode.CallClosed, 'The call is closed'));
    // Closing a transport closes its producers and consumers (mediasoup-client cascade).
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#producers.clear();
    this.#consumers.clear();
    this.#peers.clear();
    this.#signalling?.close(1000, reason);
    this.#signallingState = 'closed';
    this.#stopOwnedTracks(this.#localStream);
    this.#emitState();
    this.emit('closed', { reason });
  }

  #stopOwnedTracks(stream: MediaStream | null): void {
    if (!stream || stream === this.#options.mediaStream) return;
    if (stream === this.#localStream && !this.#ownsLocalStream) return;
    for (const track of stream.getTracks()) track.stop();
  }

  #assertOpen(): void {
    if (this.closed) throw new CallError(ClientErrorCode.CallClosed, 'The call was closed while joining');
  }

  #aggregateState(): CallConnectionState {
    if (this.#closeReason)
      return this.#closeReason === 'failed' || this.#closeReason === 'replaced' ? 'failed' : 'closed';
    if (this.#reconnecting) return 'reconnecting';
    if (this.#signallingState !== 'open' || !this.#joinDone) return 'connecting';
    const states = [this.#sendTransport?.connectionState, this.#recvTransport?.connectionState].filter(
      (s): s is ms.ConnectionState => s !== undefined && s !== 'new',
    );
    if (states.includes('failed')) return 'failed';
    if (states.includes('disconnected')) return 'disconnected';
    if (states.includes('connecting')) return 'connecting';
    return 'connected';
  }

  #emitState(): void {
    const info = this.connectionState;
    const key = `${info.state}|${info.signalling}|${info.sendTransport}|${info.recvTransport}`;
    if (key === this.#lastState) return;
    this.#lastState = key;
    this.emit('connectionStateChanged', info);
  }

  #mark(name: CallMark): void {
    if (this.marks[name] === undefined) this.marks[name] = performance.now();
  }

  #reportError(error: CallError): void {
    this.emit('error', error);
  }
}

/** Creates a Call and joins it. Pass `listeners` to see events raised during the join. */
export async function joinMeeting(options: JoinOptions): Promise<Call> {
  const call = new Call(options);
  return call.join();
}

function withContext(error: unknown, context: string): CallError {
  const callError = toCallError(error);
  if (callError.code === ClientErrorCode.UnsupportedCodec) return callError;
  return new CallError(callError.code, `${context}: ${callError.message}`, {
    ...(callError.requestType ? { requestType: callError.requestType } : {}),
    ...(callError.httpStatus ? { httpStatus: callError.httpStatus } : {}),
    cause: error,
  });
}

function codecList(capabilities: ms.RtpCapabilities, kind: MediaKind): string {
  const names = (capabilities.codecs ?? [])
    .filter((codec) => codec.kind === kind && !/\/(rtx|red|ulpfec|flexfec-03)$/i.test(codec.mimeType))
    .map((codec) => codec.mimeType.split('/')[1]);
  return names.length > 0 ? [...new Set(names)].join(', ') : 'none';
}

export type { CallStats, InboundFrame };
