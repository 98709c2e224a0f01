// Turns RTCStatsReports into the few numbers a call UI shows. Rates and loss
// are deltas between two samples of the same stream, so they describe "now".

export interface RemoteVideoStats {
  peerId: string;
  consumerId: string;
  producerId: string;
  bitrateKbps: number | null;
  /** simulcast layer the server reports forwarding (0..2), null until known */
  spatialLayer: number | null;
  temporalLayer: number | null;
  /** layer asked for with setPreferredLayer, null when never set */
  preferredSpatialLayer: number | null;
  frameWidth: number | null;
  frameHeight: number | null;
  framesPerSecond: number | null;
  framesDecoded: number;
  packetsReceived: number;
  /** loss over the last sample interval, % */
  packetLossPct: number | null;
  /** ICE round trip of the receive transport, ms */
  rttMs: number | null;
}

export interface RemoteAudioStats {
  peerId: string;
  consumerId: string;
  producerId: string;
  bitrateKbps: number | null;
  packetsReceived: number;
  packetLossPct: number | null;
  rttMs: number | null;
}

export interface LocalVideoLayerStats {
  rid: string | null;
  bitrateKbps: number | null;
  bytesSent: number;
  frameWidth: number | null;
  frameHeight: number | null;
  framesPerSecond: number | null;
  /** 'none' | 'bandwidth' | 'cpu' | 'other' (Chrome) */
  qualityLimitationReason: string | null;
  active: boolean | null;
}

/** The ICE candidate pair a transport uses, e.g. to tell a TURN-relayed call ('relay') from a direct one. */
export interface CandidatePairStats {
  /** 'host' | 'srflx' | 'prflx' | 'relay' */
  localCandidateType: string | null;
  remoteCandidateType: string | null;
  /** 'udp' | 'tcp' */
  protocol: string | null;
  /** transport to the TURN server when localCandidateType is 'relay' */
  relayProtocol: string | null;
  rttMs: number | null;
}

export interface CallStats {
  remoteVideo: RemoteVideoStats[];
  remoteAudio: RemoteAudioStats[];
  localVideo: LocalVideoLayerStats[];
  /** round trip to the media host seen by the send transport, ms */
  sendRttMs: number | null;
  /** selected candidate pair per transport, null before ICE completes */
  sendPair: CandidatePairStats | null;
  recvPair: CandidatePairStats | null;
}

interface Sample {
  timestamp: number;
  bytes: number;
  packetsReceived: number;
  packetsLost: number;
}

type StatsRecord = Record<string, unknown> & { type: string; id: string; timestamp: number };

function entries(report: RTCStatsReport): StatsRecord[] {
  const list: StatsRecord[] = [];
  report.forEach((value) => {
    list.push(value as StatsRecord);
  });
  return list;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Keeps the previous sample per stream key to compute rates. */
export class StatsSampler {
  readonly #previous = new Map<string, Sample>();

  /** Rate (kbps) and loss (%) since the last sample of `key`. */
  delta(key: string, sample: Sample): { bitrateKbps: number | null; packetLossPct: number | null } {
    const previous = this.#previous.get(key);
    this.#previous.set(key, sample);
    if (!previous || sample.timestamp <= previous.timestamp) return { bitrateKbps: null, packetLossPct: null };
    const seconds = (sample.timestamp - previous.timestamp) / 1000;
    const bitrateKbps = Math.max(0, ((sample.bytes - previous.bytes) * 8) / 1000 / seconds);
    const received = sample.packetsReceived - previous.packetsReceived;
    const lost = Math.max(0, sample.packetsLost - previous.packetsLost);
    const packetLossPct = received + lost > 0 ? (lost / (received + lost)) * 100 : 0;
    return { bitrateKbps: Math.round(bitrateKbps), packetLossPct: Math.round(packetLossPct * 10) / 10 };
  }

  forget(keyPrefix: string): void {
    for (const key of this.#previous.keys()) if (key.startsWith(keyPrefix)) this.#previous.delete(key);
  }
}

function selectedPair(list: StatsRecord[]): StatsRecord | undefined {
  const transport = list.find((s) => s.type === 'transport' && typeof s.selectedCandidatePairId === 'string');
  return (
    (transport && list.find((s) => s.id === transport.selectedCandidatePairId)) ??
    list.find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded') ??
    list.find((s) => s.type === 'candidate-pair' && s.state === 'succeeded')
  );
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** ICE RTT of the selected candidate pair in a report, ms. */
export function candidatePairRttMs(report: RTCStatsReport): number | null {
  const pair = selectedPair(entries(report));
  const seconds = pair ? num(pair.currentRoundTripTime) : null;
  return seconds === null ? null : Math.round(seconds * 1000);
}

/** The selected candidate pair of a transport's report and its two candidates. */
export function candidatePair(report: RTCStatsReport): CandidatePairStats | null {
  const list = entries(report);
  const pair = selectedPair(list);
  if (!pair) return null;
  const local = list.find((s) => s.id === pair.localCandidateId);
  const remote = list.find((s) => s.id === pair.remoteCandidateId);
  const seconds = num(pair.currentRoundTripTime);
  return {
    localCandidateType: str(local?.candidateType),
    remoteCandidateType: str(remote?.candidateType),
    protocol: str(local?.protocol),
    relayProtocol: str(local?.relayProtocol),
    rttMs: seconds === null ? null : Math.round(seconds * 1000),
  };
}

export interface InboundSummary {
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
  frameWidth: number | null;
  frameHeight: number | null;
  framesPerSecond: number | null;
  timestamp: number;
}

export function inboundRtp(report: RTCStatsReport, kind: 'audio' | 'video'): InboundSummary | null {
  const inbound = entries(report).find((s) => s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === kind);
  if (!inbound) return null;
  return {
    bytesReceived: num(inbound.bytesReceived) ?? 0,
    packetsReceived: num(inbound.packetsReceived) ?? 0,
    packetsLost: num(inbound.packetsLost) ?? 0,
    framesDecoded: num(inbound.framesDecoded) ?? 0,
    frameWidth: num(inbound.frameWidth),
    frameHeight: num(inbound.frameHeight),
    framesPerSecond: num(inbound.framesPerSecond),
    timestamp: inbound.timestamp,
  };
}

/** One entry per simulcast encoding (rid), sorted r0, r1, r2. */
export function outboundVideoLayers(report: RTCStatsReport, sampler: StatsSampler, keyPrefix: string) {
  const layers: LocalVideoLayerStats[] = [];
  for (const s of entries(report)) {
    if (s.type !== 'outbound-rtp' || (s.kind ?? s.mediaType) !== 'video') continue;
    const rid = typeof s.rid === 'string' ? s.rid : null;
    const bytesSent = num(s.bytesSent) ?? 0;
    const { bitrateKbps } = sampler.delta(`${keyPrefix}:${rid ?? s.ssrc}`, {
      timestamp: s.timestamp,
      bytes: bytesSent,
      packetsReceived: 0,
      packetsLost: 0,
    });
    layers.push({
      rid,
      bitrateKbps,
      bytesSent,
      frameWidth: num(s.frameWidth),
      frameHeight: num(s.frameHeight),
      framesPerSecond: num(s.framesPerSecond),
      qualityLimitationReason: typeof s.qualityLimitationReason === 'string' ? s.qualityLimitationReason : null,
      active: typeof s.active === 'boolean' ? s.active : null,
    });
  }
  return layers.sort((a, b) => (a.rid ?? '').localeCompare(b.rid ?? ''));
}

/** RTT the sender learns from RTCP receiver reports, ms. */
export function remoteInboundRttMs(report: RTCStatsReport): number | null {
  for (const s of entries(report)) {
    if (s.type === 'remote-inbound-rtp') {
      const seconds = num(s.roundTripTime);
      if (seconds !== null) return Math.round(seconds * 1000);
    }
  }
  return candidatePairRttMs(report);
}
