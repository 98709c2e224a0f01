// One participant of a room (the contract's PeerInfo). The peer's media state
// is kept apart from its socket: a PeerConnectionSink is attached to deliver
// messages and can be detached and replaced (a future session resume).
import type { types } from 'mediasoup';
import type { Logger } from '../shared/logger.js';
import type {
  AppData,
  BroadcastMessage,
  MediaKind,
  PeerSummary,
  ServerMessage,
} from '../shared/protocol/signalling.js';
import { TypedEmitter } from './events.js';

export type PeerCloseReason =
  | 'left'
  | 'disconnected'
  | 'replaced'
  | 'meeting-ended'
  | 'meeting-moved'
  | 'worker-died'
  | 'host-shutdown';

export type TransportDirection = 'send' | 'recv';

/** A message for several peers, serialised once. */
export interface Broadcast {
  readonly message: ServerMessage;
  readonly encoded: string;
}

export function broadcastOf(message: ServerMessage): Broadcast {
  return { message, encoded: JSON.stringify(message) };
}

/** Where a peer's messages go: today one WebSocket connection. */
export interface PeerConnectionSink {
  readonly socketId: string;
  /** a message for this peer alone (goes out at once, after any broadcasts still queued) */
  send(message: ServerMessage): void;
  /** may be batched with other broadcasts to this peer until the end of the event-loop turn */
  sendBroadcast(broadcast: Broadcast): void;
}

export interface PeerEvents extends Record<string, unknown[]> {
  close: [PeerCloseReason];
  /** one of this peer's producers closed, for whatever reason */
  producerclose: [types.Producer];
}

export interface PeerIdentity {
  peerId: string;
  userId: string;
  nickname: string;
}

export class Peer extends TypedEmitter<PeerEvents> {
  readonly peerId: string;
  readonly userId: string;
  readonly nickname: string;
  /** the socket this peer was last attached to */
  socketId: string;
  sendTransportId: string | undefined;
  recvTransportId: string | undefined;
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();
  readonly #connectedTransportIds = new Set<string>();
  #sink: PeerConnectionSink | undefined;
  #closeReason: PeerCloseReason | undefined;

  constructor(identity: PeerIdentity, sink: PeerConnectionSink, logger?: Logger) {
    super(logger);
    this.peerId = identity.peerId;
    this.userId = identity.userId;
    this.nickname = identity.nickname;
    this.#sink = sink;
    this.socketId = sink.socketId;
  }

  get closed(): boolean {
    return this.#closeReason !== undefined;
  }

  get closeReason(): PeerCloseReason | undefined {
    return this.#closeReason;
  }

  attach(sink: PeerConnectionSink): void {
    this.#sink = sink;
    this.socketId = sink.socketId;
  }

  /** Stops delivery; only the currently attached sink can detach itself. */
  detach(sink: PeerConnectionSink): void {
    if (this.#sink === sink) this.#sink = undefined;
  }

  send(message: ServerMessage): void {
    if (!this.closed) this.#sink?.send(message);
  }

  sendBroadcast(broadcast: Broadcast): void {
    if (!this.closed) this.#sink?.sendBroadcast(broadcast);
  }

  transportDirection(transportId: string): TransportDirection | undefined {
    if (transportId === this.sendTransportId) return 'send';
    if (transportId === this.recvTransportId) return 'recv';
    return undefined;
  }

  addTransport(transport: types.WebRtcTransport, direction: TransportDirection): void {
    this.transports.set(transport.id, transport);
    if (direction === 'send') this.sendTransportId = transport.id;
    else this.recvTransportId = transport.id;
    transport.observer.once('close', () => {
      this.transports.delete(transport.id);
      this.#connectedTransportIds.delete(transport.id);
      if (this.sendTransportId === transport.id) this.sendTransportId = undefined;
      if (this.recvTransportId === transport.id) this.recvTransportId = undefined;
    });
  }

  /** Records that connect() was accepted; false when it already was. */
  markConnected(transportId: string): boolean {
    if (this.#connectedTransportIds.has(transportId)) return false;
    this.#connectedTransportIds.add(transportId);
    return true;
  }

  addProducer(producer: types.Producer): void {
    this.producers.set(producer.id, producer);
    producer.observer.once('close', () => {
      this.producers.delete(producer.id);
      this.emit('producerclose', producer);
    });
  }

  addConsumer(consumer: types.Consumer): void {
    this.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => this.consumers.delete(consumer.id));
    consumer.on('producerclose', () => {
      this.send(message('rtc:consumerClosed', { consumerId: consumer.id, producerId: consumer.producerId }));
    });
    consumer.on('layerschange', (layers) => {
      this.send(
        message('rtc:consumerLayersChanged', {
          consumerId: consumer.id,
          spatialLayer: layers?.spatialLayer ?? null,
          temporalLayer: layers?.temporalLayer ?? null,
        }),
      );
    });
  }

  summary(): PeerSummary {
    return {
      peerId: this.peerId,
      userId: this.userId,
      nickname: this.nickname,
      producers: [...this.producers.values()].map((producer) => ({
        id: producer.id,
        kind: producer.kind as MediaKind,
        paused: producer.paused,
        appData: producer.appData as AppData,
      })),
    };
  }

  /**
   * Closes every transport (mediasoup closes their producers and consumers),
   * then tells listeners why. Idempotent.
   */
  close(reason: PeerCloseReason): void {
    if (this.#closeReason) return;
    this.#closeReason = reason;
    for (const transport of [...this.transports.values()]) transport.close();
    // Transports own every producer and consumer, but be certain nothing survives.
    for (const producer of [...this.producers.values()]) producer.close();
    for (const consumer of [...this.consumers.values()]) consumer.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
    this.emit('close', reason);
    this.#sink = undefined;
    this.removeAllListeners();
  }
}

export function message<T extends BroadcastMessage['type']>(
  type: T,
  data: BroadcastMessage<T>['data'],
): BroadcastMessage<T> {
  return { type, data };
}
