// REQ-003 WebSocket signalling, defined once. The media host validates every
// incoming frame against `signallingRequestSchema` before any logic runs; the
// browser SDK uses the same types. Message and field names are the contract's.
import * as z from 'zod';

/** Frames larger than this close the socket with 1009. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** `appData` must serialise to at most this many bytes of plain JSON (UTF-8). */
export const MAX_APP_DATA_BYTES = 1024;
/** Frames nested deeper than this are refused before any schema runs (zod recurses per level). */
export const MAX_JSON_DEPTH = 32;

const id = z.string().min(1).max(128);
const meetingId = id;

// ---- mediasoup parameter shapes (checked structurally here; mediasoup checks the rest) ----

const jsonPrimitive = z.union([z.string(), z.number(), z.boolean(), z.null()]);
type Json = z.infer<typeof jsonPrimitive> | Json[] | { [key: string]: Json };
const json: z.ZodType<Json> = z.lazy(() => z.union([jsonPrimitive, z.array(json), z.record(z.string(), json)]));

// TextEncoder, not Buffer: this module also runs in browsers.
const utf8 = new TextEncoder();

/** Size of a value's JSON in UTF-8 bytes (what goes over the wire), not UTF-16 units. */
export function jsonByteLength(value: unknown): number {
  return utf8.encode(JSON.stringify(value)).length;
}

export const appDataSchema = z.record(z.string(), json).refine((value) => jsonByteLength(value) <= MAX_APP_DATA_BYTES, {
  message: `appData must be at most ${MAX_APP_DATA_BYTES} bytes of JSON`,
});
export type AppData = z.infer<typeof appDataSchema>;

/** Codec parameters: a flat map of names to strings or numbers (one check, not a union per value). */
const codecParameters = z.custom<Record<string, string | number>>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === 'string' || typeof entry === 'number'),
  { message: 'parameters must map names to strings or numbers' },
);
const rtcpFeedback = z.object({ type: z.string(), parameter: z.string().optional() });

const rtpCodecCapability = z.looseObject({
  kind: z.enum(['audio', 'video']),
  mimeType: z.string().min(1),
  preferredPayloadType: z.number().int().optional(),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(rtcpFeedback).optional(),
});

const rtpHeaderExtension = z.looseObject({
  kind: z.enum(['audio', 'video']).optional(),
  uri: z.string(),
  preferredId: z.number().int().optional(),
  id: z.number().int().optional(),
});

export const rtpCapabilitiesSchema = z.looseObject({
  codecs: z.array(rtpCodecCapability).max(64).optional(),
  headerExtensions: z.array(rtpHeaderExtension).max(64).optional(),
});
export type RtpCapabilities = z.infer<typeof rtpCapabilitiesSchema>;

const rtpCodecParameters = z.looseObject({
  mimeType: z.string().min(1),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(rtcpFeedback).optional(),
});

const rtpEncoding = z.looseObject({
  ssrc: z.number().int().nonnegative().optional(),
  rid: z.string().max(32).optional(),
  codecPayloadType: z.number().int().optional(),
  rtx: z.object({ ssrc: z.number().int().nonnegative() }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(16).optional(),
  maxBitrate: z.number().int().positive().optional(),
});

export const rtpParametersSchema = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z.array(rtpCodecParameters).min(1).max(32),
  headerExtensions: z
    .array(z.looseObject({ uri: z.string(), id: z.number().int(), encrypt: z.boolean().optional() }))
    .max(32)
    .optional(),
  encodings: z.array(rtpEncoding).max(8).optional(),
  rtcp: z.looseObject({ cname: z.string().max(256).optional(), reducedSize: z.boolean().optional() }).optional(),
});
export type RtpParameters = z.infer<typeof rtpParametersSchema>;

export const dtlsParametersSchema = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().max(256),
      }),
    )
    .min(1)
    .max(8),
});
export type DtlsParameters = z.infer<typeof dtlsParametersSchema>;

export const mediaKindSchema = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof mediaKindSchema>;

// ---- client -> server requests ----

const requestId = z.string().min(1).max(64).optional();

function request<T extends string, D extends z.ZodType>(type: T, data: D) {
  return z.object({ type: z.literal(type), data, requestId });
}

export const requestSchemas = {
  'rtc:join': request('rtc:join', z.object({ meetingId })),
  'rtc:getRouterRtpCapabilities': request('rtc:getRouterRtpCapabilities', z.object({ meetingId })),
  'rtc:createTransport': request('rtc:createTransport', z.object({ meetingId, direction: z.enum(['send', 'recv']) })),
  'rtc:connectTransport': request(
    'rtc:connectTransport',
    z.object({ meetingId, transportId: id, dtlsParameters: dtlsParametersSchema }),
  ),
  'rtc:produce': request(
    'rtc:produce',
    z.object({
      meetingId,
      transportId: id,
      kind: mediaKindSchema,
      rtpParameters: rtpParametersSchema,
      appData: appDataSchema.optional(),
    }),
  ),
  'rtc:consume': request(
    'rtc:consume',
    z.object({ meetingId, producerId: id, rtpCapabilities: rtpCapabilitiesSchema }),
  ),
  'rtc:resumeConsumer': request('rtc:resumeConsumer', z.object({ meetingId, consumerId: id })),
  'rtc:leave': request('rtc:leave', z.object({ meetingId })),
  // Beyond the contract, for mute/unmute and layer choice in the SDK:
  'rtc:pauseProducer': request('rtc:pauseProducer', z.object({ meetingId, producerId: id })),
  'rtc:resumeProducer': request('rtc:resumeProducer', z.object({ meetingId, producerId: id })),
  'rtc:closeProducer': request('rtc:closeProducer', z.object({ meetingId, producerId: id })),
  'rtc:setPreferredLayers': request(
    'rtc:setPreferredLayers',
    z.object({
      meetingId,
      consumerId: id,
      spatialLayer: z.number().int().min(0).max(2),
      temporalLayer: z.number().int().min(0).max(2).optional(),
    }),
  ),
} as const;

export type RequestType = keyof typeof requestSchemas;
export const requestTypes = Object.keys(requestSchemas) as RequestType[];

export const signallingRequestSchema = z.discriminatedUnion('type', [
  requestSchemas['rtc:join'],
  requestSchemas['rtc:getRouterRtpCapabilities'],
  requestSchemas['rtc:createTransport'],
  requestSchemas['rtc:connectTransport'],
  requestSchemas['rtc:produce'],
  requestSchemas['rtc:consume'],
  requestSchemas['rtc:resumeConsumer'],
  requestSchemas['rtc:leave'],
  requestSchemas['rtc:pauseProducer'],
  requestSchemas['rtc:resumeProducer'],
  requestSchemas['rtc:closeProducer'],
  requestSchemas['rtc:setPreferredLayers'],
]);
export type SignallingRequest = z.infer<typeof signallingRequestSchema>;
export type RequestData<T extends RequestType> = z.infer<(typeof requestSchemas)[T]>['data'];

// ---- server -> client replies ----

const producerSummary = z.object({
  id,
  kind: mediaKindSchema,
  paused: z.boolean().optional(),
  appData: appDataSchema,
});

export const peerSummarySchema = z.object({
  peerId: id,
  userId: id,
  nickname: z.string(),
  producers: z.array(producerSummary),
});
export type PeerSummary = z.infer<typeof peerSummarySchema>;

const iceCandidate = z.looseObject({
  foundation: z.string(),
  priority: z.number(),
  ip: z.string().optional(),
  address: z.string().optional(),
  protocol: z.enum(['udp', 'tcp']),
  port: z.number(),
  type: z.string(),
  tcpType: z.string().optional(),
});

export const responseDataSchemas = {
  'rtc:joined': z.object({ peerId: id, peers: z.array(peerSummarySchema) }),
  'rtc:routerRtpCapabilities': z.object({ rtpCapabilities: rtpCapabilitiesSchema }),
  'rtc:transportCreated': z.object({
    transportId: id,
    direction: z.enum(['send', 'recv']),
    iceParameters: z.looseObject({
      usernameFragment: z.string(),
      password: z.string(),
      iceLite: z.boolean().optional(),
    }),
    iceCandidates: z.array(iceCandidate),
    dtlsParameters: dtlsParametersSchema,
  }),
  'rtc:transportConnected': z.object({ transportId: id }),
  'rtc:produced': z.object({ producerId: id }),
  'rtc:consumed': z.object({
    consumerId: id,
    producerId: id,
    peerId: id,
    kind: mediaKindSchema,
    rtpParameters: rtpParametersSchema,
    type: z.enum(['simple', 'simulcast', 'svc', 'pipe']),
    producerPaused: z.boolean(),
    appData: appDataSchema,
  }),
  'rtc:consumerResumed': z.object({ consumerId: id }),
  'rtc:left': z.object({ peerId: id }),
  'rtc:producerPaused': z.object({ producerId: id }),
  'rtc:producerResumed': z.object({ producerId: id }),
  'rtc:producerClosedByPeer': z.object({ producerId: id }),
  'rtc:preferredLayersSet': z.object({ consumerId: id }),
} as const;
export type ResponseType = keyof typeof responseDataSchemas;
export type ResponseData<T extends ResponseType> = z.infer<(typeof responseDataSchemas)[T]>;

/** Which reply type answers each request type. */
export const responseTypeFor = {
  'rtc:join': 'rtc:joined',
  'rtc:getRouterRtpCapabilities': 'rtc:routerRtpCapabilities',
  'rtc:createTransport': 'rtc:transportCreated',
  'rtc:connectTransport': 'rtc:transportConnected',
  'rtc:produce': 'rtc:produced',
  'rtc:consume': 'rtc:consumed',
  'rtc:resumeConsumer': 'rtc:consumerResumed',
  'rtc:leave': 'rtc:left',
  'rtc:pauseProducer': 'rtc:producerPaused',
  'rtc:resumeProducer': 'rtc:producerResumed',
  'rtc:closeProducer': 'rtc:producerClosedByPeer',
  'rtc:setPreferredLayers': 'rtc:preferredLayersSet',
} as const satisfies Record<RequestType, ResponseType>;
export type ResponseTypeFor<T extends RequestType> = (typeof responseTypeFor)[T];

export interface SuccessReply<T extends ResponseType = ResponseType> {
  type: T;
  requestId?: string;
  data: ResponseData<T>;
}

/** A failed request. `requestType` echoes what was asked when it could be read. */
export interface ErrorReply {
  type: 'rtc:error';
  requestId?: string;
  requestType?: string;
  error: string;
  code: number;
}

// ---- server -> client broadcasts ----

export const broadcastDataSchemas = {
  'rtc:newProducer': z.object({
    producerId: id,
    peerId: id,
    kind: mediaKindSchema,
    paused: z.boolean().optional(),
    appData: appDataSchema,
  }),
  'rtc:producerClosed': z.object({ producerId: id, peerId: id }),
  'rtc:peerJoined': z.object({ peerId: id, userId: id, nickname: z.string() }),
  'rtc:peerLeft': z.object({ peerId: id, userId: id }),
  'rtc:meetingEnded': z.object({ meetingId, endedBy: z.string(), endedAt: z.string() }),
  // Beyond the contract: mute state and consumer changes, so remote tiles can follow.
  'rtc:producerPaused': z.object({ producerId: id, peerId: id }),
  'rtc:producerResumed': z.object({ producerId: id, peerId: id }),
  'rtc:consumerClosed': z.object({ consumerId: id, producerId: id }),
  'rtc:consumerLayersChanged': z.object({
    consumerId: id,
    spatialLayer: z.number().int().nullable(),
    temporalLayer: z.number().int().nullable(),
  }),
} as const;
export type BroadcastType = keyof typeof broadcastDataSchemas;
export type BroadcastData<T extends BroadcastType> = z.infer<(typeof broadcastDataSchemas)[T]>;

export interface BroadcastMessage<T extends BroadcastType = BroadcastType> {
  type: T;
  data: BroadcastData<T>;
}

/** Any frame the server sends. */
export type ServerMessage = SuccessReply | ErrorReply | BroadcastMessage;

// ---- WebSocket close codes the host uses ----
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  /** policy violation: sustained rate-limit abuse */
  PolicyViolation: 1008,
  /** frame over MAX_FRAME_BYTES */
  MessageTooBig: 1009,
  InternalError: 1011,
  /** ours: a newer connection of the same user took over */
  ReplacedByNewConnection: 4001,
  /** ours: the meeting ended */
  MeetingEnded: 4002,
  /** ours: the media worker serving the room died */
  WorkerDied: 4003,
  /** ours: the host is shutting down */
  HostShutdown: 4004,
  /** ours: another host serves the meeting now; fetch a new media session */
  MeetingMoved: 4005,
  /** ours: no rtc:join (or nothing after rtc:leave) within the host's join timeout */
  JoinTimeout: 4006,
} as const;

/** Thrown by parseJsonSafely for text nested deeper than its limit. */
export class JsonTooDeepError extends Error {
  override name = 'JsonTooDeepError';
  constructor(readonly maxDepth: number) {
    super(`JSON must not be nested deeper than ${maxDepth} levels`);
  }
}

/**
 * JSON.parse that drops `__proto__`, `constructor` and `prototype` keys, so a
 * frame can never reach an object's prototype later on, and refuses text
 * nested deeper than `maxDepth` (JsonTooDeepError) before parsing, so nothing
 * recursive (reviver, schemas, stringify) ever sees a deep value.
 */
export function parseJsonSafely(text: string, maxDepth: number = MAX_JSON_DEPTH): unknown {
  if (jsonNestingExceeds(text, maxDepth)) throw new JsonTooDeepError(maxDepth);
  // Fast path: such a key can only appear literally or through a \u escape,
  // so text with neither parses without the (much slower) reviver.
  if (!text.includes('\\u') && !DANGEROUS_KEY.test(text)) return JSON.parse(text);
  return JSON.parse(text, (key, value) =>
    key === '__proto__' || key === 'constructor' || key === 'prototype' ? undefined : value,
  );
}

const DANGEROUS_KEY = /"(?:__proto__|constructor|prototype)"\s*:/;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * One iterative pass over the text: true when objects/arrays open more than
 * `maxDepth` levels deep outside strings. Strings are skipped with indexOf
 * (most of a frame is strings). Malformed text is left to JSON.parse.
 */
export function jsonNestingExceeds(text: string, maxDepth: number): boolean {
  if (text.length <= maxDepth) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i);
      if (i === -1) return false;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** Index of the quote that ends the string opened at `open` (one not escaped by an odd run of backslashes), or -1. */
function closingQuote(text: string, open: number): number {
  let i = open;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(i - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return i;
  }
}
