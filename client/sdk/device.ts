// mediasoup-client Device creation with the browser's own RTP capabilities
// computed ahead of time. Device.load() normally builds two throw-away
// RTCPeerConnections (recvonly and sendonly offers) after the router's
// capabilities arrive, which puts ~50-100 ms on the join's critical path.
// Those native capabilities depend only on the browser, so preloadDevice()
// computes them once per page (at page load or at the start of a join) and the
// Device is created with a handler factory that reuses them.
import { Device, detectDeviceAsync, type types as ms } from 'mediasoup-client';
import { Chrome74 } from 'mediasoup-client/handlers/Chrome74';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import { Firefox120 } from 'mediasoup-client/handlers/Firefox120';
import { Safari12 } from 'mediasoup-client/handlers/Safari12';
import { CallError, ClientErrorCode } from './errors.js';

const HANDLERS: Record<string, () => ms.HandlerFactory> = {
  Chrome111: () => Chrome111.createFactory(),
  Chrome74: () => Chrome74.createFactory(),
  Firefox120: () => Firefox120.createFactory(),
  Safari12: () => Safari12.createFactory(),
};

let preloaded: Promise<ms.HandlerFactory> | null = null;

/** The detected handler, with its native RTP capabilities computed once and reused by every Device. */
async function memoizedHandlerFactory(): Promise<ms.HandlerFactory> {
  const name = await detectDeviceAsync();
  const create = name ? HANDLERS[name] : undefined;
  if (!create) throw new CallError(ClientErrorCode.UnsupportedBrowser, 'This browser does not support WebRTC calls');
  const base = create();
  const native = new Map<string, Promise<ms.RtpCapabilities>>();
  const nativeCapabilities = (options: Parameters<ms.HandlerFactory['getNativeRtpCapabilities']>[0]) => {
    const key = options.direction ?? 'sendrecv';
    let capabilities = native.get(key);
    if (!capabilities) {
      capabilities = base.getNativeRtpCapabilities(options);
      native.set(key, capabilities);
      // a failure is not cached: the next Device asks again
      capabilities.catch(() => native.delete(key));
    }
    return capabilities;
  };
  // Device.load() asks for both directions; start them now.
  await Promise.all([nativeCapabilities({ direction: 'recvonly' }), nativeCapabilities({ direction: 'sendonly' })]);
  return {
    name: base.name,
    factory: base.factory,
    getNativeRtpCapabilities: nativeCapabilities,
    getNativeSctpCapabilities: base.getNativeSctpCapabilities,
  };
}

/** Starts computing this browser's WebRTC capabilities; safe to call any time, more than once. */
export function preloadDevice(): Promise<void> {
  if (!preloaded) {
    preloaded = memoizedHandlerFactory();
    preloaded.catch(() => {
      preloaded = null;
    });
  }
  return preloaded.then(
    () => undefined,
    () => undefined,
  );
}

/** A loaded Device for the router; rejects with UnsupportedBrowser when this browser cannot do WebRTC. */
export async function createLoadedDevice(routerRtpCapabilities: ms.RtpCapabilities): Promise<Device> {
  let device: Device;
  try {
    if (!preloaded) void preloadDevice();
    const handlerFactory = await (preloaded ?? memoizedHandlerFactory());
    device = await Device.factory({ handlerFactory });
  } catch (error) {
    if (error instanceof CallError) throw error;
    throw new CallError(ClientErrorCode.UnsupportedBrowser, 'This browser does not support WebRTC calls', {
      cause: error,
    });
  }
  await device.load({ routerRtpCapabilities });
  return device;
}
