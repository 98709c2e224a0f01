// Router codecs and transport settings (one place, so tests and the benchmark
// see exactly what production runs).
import type { types } from 'mediasoup';

/**
 * Opus: stereo with in-band FEC and DTX (the contract wants audio usable at
 * 20 % loss); mediasoup's opus capability already carries NACK and
 * transport-cc feedback, and consumers enable RTX storage for audio too.
 * Video: VP8, VP9 profile 0, H264 constrained baseline and main (Safari).
 */
export const mediaCodecs: types.RouterRtpCodecCapability[] = [
  {
    kind: 'audio',
    mimeType: 'audio/opus',
    clockRate: 48000,
    channels: 2,
    parameters: { useinbandfec: 1, usedtx: 1 },
    rtcpFeedback: [{ type: 'nack' }, { type: 'transport-cc' }],
  },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
  {
    kind: 'video',
    mimeType: 'video/VP9',
    clockRate: 90000,
    parameters: { 'profile-id': 0, 'x-google-start-bitrate': 1000 },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '42e01f',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 1000,
    },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '4d001f',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 1000,
    },
  },
];

export interface TransportSettings {
  /** bits per second the sender may push into one transport (3 simulcast layers + audio fit) */
  maxIncomingBitrate: number;
  /** starting estimate of the downlink before bandwidth estimation has data */
  initialAvailableOutgoingBitrate: number;
}

export const defaultTransportSettings: TransportSettings = {
  maxIncomingBitrate: 2_500_000,
  initialAvailableOutgoingBitrate: 1_000_000,
};

/** Producers and consumers a single peer may hold (guards the worker against abuse). */
export const peerLimits = {
  maxProducers: 8,
  maxConsumers: 400,
} as const;
