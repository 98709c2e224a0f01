// One meeting on this host (the contract's RoomInfo): a router on one worker,
// its peers and all their WebRTC transports. Closing cascades to the peers;
// a room closes itself when its last peer leaves or its worker dies.
import type { types } from 'mediasoup';
import type { Logger } from '../shared/logger.js';
import type { PeerSummary, ServerMessage } from '../shared/protocol/signalling.js';
import { TypedEmitter } from './events.js';
import type { TransportSettings } from './media-settings.js';
import { broadcastOf, message, type Peer, type PeerCloseReason, type TransportDirection } from './peer.js';
import type { WorkerHandle } from './workers.js';

export type RoomCloseReason = 'empty' | 'meeting-ended' | 'meeting-moved' | 'worker-died' | 'host-shutdown';

export interface RoomEvents extends Record<string, unknown[]> {
  close: [RoomCloseReason];
  peerleft: [Peer, PeerCloseReason];
}

export class RoomClosedError extends Error {
  override name = 'RoomClosedError';
}

export class Room extends TypedEmitter<RoomEvents> {
  readonly meetingId: string;
  readonly router: types.Router;
  readonly worker: WorkerHandle;
  readonly peers = new Map<string, Peer>();
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly createdAt = new Date();
  readonly #transportSettings: TransportSettings;
  readonly #logger: Logger;
  #closeReason: RoomCloseReason | undefined;
  /** > 0 while a peer is being replaced, so the room does not close as empty in between */
  #holdOpen = 0;

  constructor(options: {
    meetingId: string;
    router: types.Router;
    worker: WorkerHandle;
    transportSettings: TransportSettings;
    logger: Logger;
  }) {
    super(options.logger);
    this.meetingId = options.meetingId;
    this.router = options.router;
    this.worker = options.worker;
    this.#transportSettings = options.transportSettings;
    this.#logger = options.logger;
    this.router.once('workerclose', () => this.close('worker-died'));
    this.router.observer.once('close', () => this.close(this.worker.worker.died ? 'worker-died' : 'empty'));
  }

  get closed(): boolean {
    return this.#closeReason !== undefined;
  }

  /** True once the room or its router is going away: no more broadcasts. */
  get #quiet(): boolean {
    return this.closed || this.router.closed;
  }

  /**
   * Adds a peer. An older peer of the same user (another tab) is closed first
   * with reason 'replaced', so the others see peerLeft(old) then peerJoined(new).
   * Returns the other peers as the contract's `rtc:joined` lists them.
   */
  join(peer: Peer): PeerSummary[] {
    if (this.closed) throw new RoomClosedError(`room ${this.meetingId} is closed`);
    this.#holdOpen++;
    try {
      for (const other of [...this.peers.values()]) {
        if (other.userId === peer.userId) other.close('replaced');
      }
    } finally {
      this.#holdOpen--;
    }
    const others = [...this.peers.values()].map((other) => other.summary());
    this.peers.set(peer.peerId, peer);
    peer.on('producerclose', (producer) => {
      if (this.#quiet) return;
      this.broadcast(message('rtc:producerClosed', { producerId: producer.id, peerId: peer.peerId }), peer.peerId);
    });
    peer.once('close', (reason) => this.#onPeerClose(peer, reason));
    this.broadcast(
      message('rtc:peerJoined', { peerId: peer.peerId, userId: peer.userId, nickname: peer.nickname }),
      peer.peerId,
    );
    return others;
  }

  broadcast(msg: ServerMessage, exceptPeerId?: string): void {
    const broadcast = broadcastOf(msg);
    for (const peer of this.peers.values()) {
      if (peer.peerId !== exceptPeerId) peer.sendBroadcast(broadcast);
    }
  }

  async createWebRtcTransport(peer: Peer, direction: TransportDirection): Promise<types.WebRtcTransport> {
    const transport = await this.router.createWebRtcTransport({
      webRtcServer: this.worker.webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: this.#transportSettings.initialAvailableOutgoingBitrate,
      appData: { peerId: peer.peerId, direction },
    });
    // The peer may have left (or the room closed) while the worker answered.
    if (peer.closed || this.closed) {
      transport.close();
      throw new RoomClosedError('peer left while its transport was created');
    }
    this.transports.set(transport.id, transport);
    transport.observer.once('close', () => this.transports.delete(transport.id));
    peer.addTransport(transport, direction);
    if (direction === 'send') {
      // Not awaited: the worker handles a transport's requests in order, so the
      // cap applies before any connect or produce; the reply need not wait for it.
      transport.setMaxIncomingBitrate(this.#transportSettings.maxIncomingBitrate).catch((error: unknown) => {
        if (!transport.closed) this.#logger.warn('setMaxIncomingBitrate failed', { transportId: transport.id, error });
      });
    }
    return transport;
  }

  findProducer(producerId: string): { producer: types.Producer; peer: Peer } | undefined {
    for (const peer of this.peers.values()) {
      const producer = peer.producers.get(producerId);
      if (producer) return { producer, peer };
    }
    return undefined;
  }

  /** Closes every peer with the room's reason, then the router. Idempotent. */
  close(reason: RoomCloseReason): void {
    if (this.#closeReason) return;
    this.#closeReason = reason;
    const peerReason: PeerCloseReason = reason === 'empty' ? 'host-shutdown' : reason;
    for (const peer of [...this.peers.values()]) peer.close(peerReason);
    this.peers.clear();
    this.router.close();
    this.transports.clear();
    this.#logger.info('room closed', { meetingId: this.meetingId, reason });
    this.emit('close', reason);
    this.removeAllListeners();
  }

  #onPeerClose(peer: Peer, reason: PeerCloseReason): void {
    this.peers.delete(peer.peerId);
    if (!this.#quiet) {
      this.broadcast(message('rtc:peerLeft', { peerId: peer.peerId, userId: peer.userId }));
    }
    this.emit('peerleft', peer, reason);
    if (this.peers.size === 0 && this.#holdOpen === 0 && !this.closed) this.close('empty');
  }
}
