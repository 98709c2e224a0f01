// Camera and microphone: one getUserMedia for both, falling back to each alone
// so a missing camera still lets the user talk. Can be started before the call
// exists (startLocalMedia at the click), so the devices warm up while the
// HTTP and signalling steps of the join run.
import type { MediaKind } from '../../shared/protocol/signalling.js';
import { CallError, ClientErrorCode } from './errors.js';

/** The contract's camera capture. */
export const CAMERA_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30 },
};

const MICROPHONE_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

export interface PublishOptions {
  audio?: boolean;
  video?: boolean;
}

/** What getUserMedia gave: the stream (null when nothing was asked for or nothing worked) and why a device is missing. */
export interface LocalMedia {
  stream: MediaStream | null;
  errors: CallError[];
}

export function deviceName(kind: MediaKind): string {
  return kind === 'audio' ? 'microphone' : 'camera';
}

export function mediaDeviceError(kind: MediaKind, error: unknown): CallError {
  const name = error instanceof DOMException ? error.name : '';
  const what = deviceName(kind);
  const message =
    name === 'NotAllowedError' || name === 'SecurityError'
      ? `Permission to use your ${what} was denied`
      : name === 'NotFoundError' || name === 'OverconstrainedError'
        ? `No ${what} was found`
        : name === 'NotReadableError'
          ? `Your ${what} is in use by another application`
          : `Could not start your ${what}`;
  return new CallError(ClientErrorCode.MediaDevice, message, { cause: error });
}

/**
 * Opens the camera and microphone. Never rejects: device problems come back in
 * `errors`. Pass the promise as `JoinOptions.localMedia`; the call then owns
 * the tracks (stops them on leave). A caller that never hands it to a call
 * must stop the tracks itself (stopLocalMedia).
 */
export async function startLocalMedia(publish: PublishOptions = {}): Promise<LocalMedia> {
  const wantAudio = publish.audio ?? true;
  const wantVideo = publish.video ?? true;
  if (!wantAudio && !wantVideo) return { stream: null, errors: [] };
  if (!navigator.mediaDevices?.getUserMedia) {
    return {
      stream: null,
      errors: [
        new CallError(ClientErrorCode.MediaDevice, 'This page cannot use the camera or microphone (needs HTTPS)'),
      ],
    };
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: wantAudio ? MICROPHONE_CONSTRAINTS : false,
      video: wantVideo ? CAMERA_CONSTRAINTS : false,
    });
    return { stream, errors: [] };
  } catch {
    const stream = new MediaStream();
    const errors: CallError[] = [];
    for (const kind of ['audio', 'video'] as const) {
      if (kind === 'audio' ? !wantAudio : !wantVideo) continue;
      try {
        const single = await navigator.mediaDevices.getUserMedia(
          kind === 'audio' ? { audio: MICROPHONE_CONSTRAINTS } : { video: CAMERA_CONSTRAINTS },
        );
        for (const track of single.getTracks()) stream.addTrack(track);
      } catch (error) {
        errors.push(mediaDeviceError(kind, error));
      }
    }
    return { stream: stream.getTracks().length > 0 ? stream : null, errors };
  }
}

/** Stops the tracks of a startLocalMedia() result that was not handed to a call. */
export function stopLocalMedia(media: Promise<LocalMedia>): void {
  media
    .then(({ stream }) => {
      for (const track of stream?.getTracks() ?? []) track.stop();
    })
    .catch(() => {});
}
