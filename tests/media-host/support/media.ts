// RTP parameters derived from the router's capabilities, standing in for what
// mediasoup-client would send (real browsers are tested in the client issue).
import { randomInt } from 'node:crypto';

interface CodecCapability {
  kind: 'audio' | 'video';
  mimeType: string;
  preferredPayloadType?: number;
  clockRate: number;
  channels?: number;
  parameters?: Record<string, unknown>;
  rtcpFeedback?: { type: string; parameter?: string }[];
}

export interface Capabilities {
  codecs?: CodecCapability[];
  headerExtensions?: { kind?: string; uri: string; preferredId?: number }[];
}

const MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
const RRID_URI = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';

function codec(capabilities: Capabilities, mimeType: string): CodecCapability {
  const found = capabilities.codecs?.find((c) => c.mimeType.toLowerCase() === mimeType.toLowerCase());
  if (!found) throw new Error(`router has no ${mimeType}`);
  return found;
}

function headerExtension(capabilities: Capabilities, kind: string, uri: string) {
  const found = capabilities.headerExtensions?.find((h) => h.uri === uri && (!h.kind || h.kind === kind));
  if (!found?.preferredId) throw new Error(`router has no ${uri}`);
  return { uri, id: found.preferredId };
}

function codecParameters(capability: CodecCapability) {
  return {
    mimeType: capability.mimeType,
    payloadType: capability.preferredPayloadType ?? 100,
    clockRate: capability.clockRate,
    ...(capability.channels ? { channels: capability.channels } : {}),
    parameters: capability.parameters ?? {},
    rtcpFeedback: capability.rtcpFeedback ?? [],
  };
}

export function opusRtpParameters(capabilities: Capabilities, mid = '0') {
  return {
    mid,
    codecs: [codecParameters(codec(capabilities, 'audio/opus'))],
    headerExtensions: [headerExtension(capabilities, 'audio', MID_URI)],
    encodings: [{ ssrc: randomInt(1, 2 ** 31) }],
    rtcp: { cname: `cname-${mid}`, reducedSize: true },
  };
}

/** VP8 simulcast as Chrome sends it: three rid encodings (r0..r2), no SSRCs, S1T3. */
export function vp8SimulcastRtpParameters(capabilities: Capabilities, mid = '1') {
  const vp8 = codec(capabilities, 'video/VP8');
  const rtx = capabilities.codecs?.find(
    (c) => c.mimeType.toLowerCase() === 'video/rtx' && c.parameters?.apt === vp8.preferredPayloadType,
  );
  return {
    mid,
    codecs: [codecParameters(vp8), ...(rtx ? [codecParameters(rtx)] : [])],
    headerExtensions: [
      headerExtension(capabilities, 'video', MID_URI),
      headerExtension(capabilities, 'video', RID_URI),
      headerExtension(capabilities, 'video', RRID_URI),
    ],
    encodings: [
      { rid: 'r0', scalabilityMode: 'S1T3', maxBitrate: 100_000 },
      { rid: 'r1', scalabilityMode: 'S1T3', maxBitrate: 300_000 },
      { rid: 'r2', scalabilityMode: 'S1T3', maxBitrate: 1_500_000 },
    ],
    rtcp: { cname: `cname-${mid}`, reducedSize: true },
  };
}

export function h264RtpParameters(capabilities: Capabilities, profileLevelId: string, mid = '2') {
  const h264 = capabilities.codecs?.find(
    (c) => c.mimeType === 'video/H264' && c.parameters?.['profile-level-id'] === profileLevelId,
  );
  if (!h264) throw new Error(`router has no H264 ${profileLevelId}`);
  return {
    mid,
    codecs: [codecParameters(h264)],
    headerExtensions: [headerExtension(capabilities, 'video', MID_URI)],
    encodings: [{ ssrc: randomInt(1, 2 ** 31) }],
    rtcp: { cname: `cname-${mid}`, reducedSize: true },
  };
}

/** DTLS parameters a browser would send (no real handshake happens without ICE). */
export const clientDtlsParameters = {
  role: 'client',
  fingerprints: [
    {
      algorithm: 'sha-256',
      value: '82:5A:68:3D:36:C3:0A:DE:AF:67:AC:0C:9F:9D:2B:F4:87:A8:2C:9F:00:2E:33:63:01:63:3D:72:49:60:08:44',
    },
  ],
};

/** Capabilities of a receiver that only decodes the given mime types. */
export function onlyCodecs(capabilities: Capabilities, mimeTypes: string[]): Capabilities {
  const keep = new Set(mimeTypes.map((m) => m.toLowerCase()));
  const codecs = (capabilities.codecs ?? []).filter((c) => keep.has(c.mimeType.toLowerCase()));
  const payloadTypes = new Set(codecs.map((c) => c.preferredPayloadType));
  const rtx = (capabilities.codecs ?? []).filter(
    (c) => c.mimeType.toLowerCase().endsWith('/rtx') && payloadTypes.has(c.parameters?.apt as number),
  );
  return { ...capabilities, codecs: [...codecs, ...rtx] };
}
