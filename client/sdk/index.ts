// Public surface of the browser SDK.
export {
  CAMERA_ENCODINGS,
  Call,
  type CallConnectionState,
  type CallEvents,
  type CallListeners,
  type CallMark,
  type CloseReason,
  type ConnectionStateInfo,
  type JoinOptions,
  joinMeeting,
  MICROPHONE_CODEC_OPTIONS,
  type RemotePeer,
  type RemotePeerInfo,
  type RemoteTrack,
} from './call.js';
export { preloadDevice } from './device.js';
export { CallError, type CallErrorCode, ClientErrorCode, isMeetingEndedCode } from './errors.js';
export { type Api, api, createMediaSession, getMediaConfig, requestEnvelope } from './http.js';
export {
  CAMERA_CONSTRAINTS,
  type LocalMedia,
  type PublishOptions,
  startLocalMedia,
  stopLocalMedia,
} from './media.js';
export type { InboundFrame } from './signalling.js';
export type {
  CallStats,
  CandidatePairStats,
  LocalVideoLayerStats,
  RemoteAudioStats,
  RemoteVideoStats,
} from './stats.js';
