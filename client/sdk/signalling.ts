// WebSocket signalling client: request/reply matched by requestId, with
// timeouts and a client-side token bucket kept just under the media host's
// limit (burst 50, 10 msg/s per user, plus the same credit per announced
// producer) so a big join never trips 42901.
import { ErrorCode } from '../../shared/errors.js';
import {
  announcedProducers,
  isAnswerRequest,
  REQUESTS_PER_ANNOUNCED_PRODUCER,
} from '../../shared/protocol/rate-limit.js';
import type {
  BroadcastMessage,
  BroadcastType,
  ErrorReply,
  RequestData,
  RequestType,
  ResponseData,
  ResponseTypeFor,
} from '../../shared/protocol/signalling.js';
import { TypedEmitter } from './emitter.js';
import { CallError, ClientErrorCode } from './errors.js';
import { TokenBucket } from './token-bucket.js';

/** Any parsed frame from the server, as handed to observers. */
export interface InboundFrame {
  type: string;
  requestId?: string;
  requestType?: string;
  data?: unknown;
  error?: string;
  code?: number;
}

export interface SignallingCloseInfo {
  code: number;
  reason: string;
  /** true when this side called close() */
  byUs: boolean;
}

export interface SignallingEvents {
  /** every frame received, before it is routed */
  frame: InboundFrame;
  /** every request sent (type and requestId only) */
  sent: { type: RequestType; requestId: string };
  broadcast: BroadcastMessage;
  /** an rtc:error that answers no pending request */
  unsolicitedError: ErrorReply;
  close: SignallingCloseInfo;
}

export interface SignallingOptions {
  /** ms to wait for the socket to open */
  openTimeoutMs?: number;
  /** ms to wait for each reply */
  requestTimeoutMs?: number;
  /** token bucket size and refill; defaults stay under the host's 50 burst / 10 per s */
  burst?: number;
  perSecond?: number;
}

interface PendingRequest {
  type: RequestType;
  resolve: (data: unknown) => void;
  reject: (error: CallError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const RATE_LIMIT_RETRIES = 3;
/** credit held at once: below the host's (consume + resume for 400 consumers) */
const MAX_CREDIT = 700;

export class SignallingClient extends TypedEmitter<SignallingEvents> {
  readonly #socket: WebSocket;
  readonly #pending = new Map<string, PendingRequest>();
  readonly #bucket: TokenBucket;
  readonly #requestTimeoutMs: number;
  readonly #idPrefix = Math.random().toString(36).slice(2, 8);
  #nextId = 1;
  #closed = false;

  private constructor(socket: WebSocket, options: SignallingOptions) {
    super();
    this.#socket = socket;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#bucket = new TokenBucket(options.burst ?? 45, options.perSecond ?? 9, MAX_CREDIT);
    socket.addEventListener('message', (event) => this.#onMessage(event));
    socket.addEventListener('close', (event) => this.#onClose(event.code, event.reason, false));
  }

  /** Opens the socket; rejects with SignallingClosed if it cannot. The URL carries a one-time token: never log it. */
  static open(url: string, options: SignallingOptions = {}): Promise<SignallingClient> {
    return new Promise((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(url);
      } catch (error) {
        reject(new CallError(ClientErrorCode.SignallingClosed, 'Invalid signalling URL', { cause: error }));
        return;
      }
      const timer = setTimeout(() => {
        cleanup();
        socket.close();
        reject(new CallError(ClientErrorCode.Timeout, 'The media server did not answer in time'));
      }, options.openTimeoutMs ?? 10_000);
      const onOpen = () => {
        cleanup();
        resolve(new SignallingClient(socket, options));
      };
      const onFail = (event: Event) => {
        cleanup();
        const code = event instanceof CloseEvent ? event.code : 1006;
        reject(
          new CallError(ClientErrorCode.SignallingClosed, `Could not connect to the media server (close ${code})`),
        );
      };
      const cleanup = () => {
        clearTimeout(timer);
        socket.removeEventListener('open', onOpen);
        socket.removeEventListener('close', onFail);
      };
      socket.addEventListener('open', onOpen);
      // 'error' is always followed by 'close', which carries the code.
      socket.addEventListener('close', onFail);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a request and resolves with the reply's data; an rtc:error reply rejects with its code. */
  async request<T extends RequestType>(
    type: T,
    data: RequestData<T>,
    options: { timeoutMs?: number } = {},
  ): Promise<ResponseData<ResponseTypeFor<T>>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.#requestOnce(type, data, options.timeoutMs ?? this.#requestTimeoutMs)) as ResponseData<
          ResponseTypeFor<T>
        >;
      } catch (error) {
        const rateLimited = error instanceof CallError && error.code === ErrorCode.RateLimited;
        if (!rateLimited || attempt >= RATE_LIMIT_RETRIES || this.#closed) throw error;
        await delay(400 * (attempt + 1) + Math.random() * 200);
      }
    }
  }

  async #requestOnce(type: RequestType, data: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#closed) throw new CallError(ClientErrorCode.SignallingClosed, 'Signalling connection is closed');
    await this.#bucket.take(isAnswerRequest(type));
    if (this.#closed) throw new CallError(ClientErrorCode.SignallingClosed, 'Signalling connection is closed');
    const requestId = `${this.#idPrefix}-${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        reject(
          new CallError(ClientErrorCode.Timeout, `No reply to ${type} within ${timeoutMs} ms`, { requestType: type }),
        );
      }, timeoutMs);
      this.#pending.set(requestId, { type, resolve, reject, timer });
      try {
        this.#socket.send(JSON.stringify({ type, data, requestId }));
        this.emit('sent', { type, requestId });
      } catch (error) {
        clearTimeout(timer);
        this.#pending.delete(requestId);
        reject(new CallError(ClientErrorCode.SignallingClosed, `Could not send ${type}`, { cause: error }));
      }
    });
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    try {
      this.#socket.close(code, reason);
    } catch {
      // already closing
    }
    this.#onClose(code, reason, true);
  }

  /**
   * Drops the connection as a network failure would: the host sees the socket close and the
   * handlers here see 1006 (abnormal closure), which a browser cannot send itself. For fault drills and tests.
   */
  abort(): void {
    if (this.#closed) return;
    try {
      this.#socket.close(4000, 'aborted');
    } catch {
      // already closing
    }
    this.#onClose(1006, 'aborted', false);
  }

  #onMessage(event: MessageEvent): void {
    if (typeof event.data !== 'string') return;
    let frame: InboundFrame;
    try {
      const parsed: unknown = JSON.parse(event.data);
      if (typeof parsed !== 'object' || parsed === null || typeof (parsed as InboundFrame).type !== 'string') return;
      frame = parsed as InboundFrame;
    } catch {
      return;
    }
    this.emit('frame', frame);
    // counted before the reply resolves, so the consumes it leads to find the tokens
    const announced = announcedProducers(frame);
    if (announced > 0) this.#bucket.addCredit(announced * REQUESTS_PER_ANNOUNCED_PRODUCER);

    const pending = frame.requestId === undefined ? undefined : this.#pending.get(frame.requestId);
    if (pending && frame.requestId !== undefined) {
      this.#pending.delete(frame.requestId);
      clearTimeout(pending.timer);
      if (frame.type === 'rtc:error') {
        pending.reject(
          new CallError(frame.code ?? ErrorCode.Internal, frame.error ?? 'Request failed', {
            requestType: pending.type,
          }),
        );
      } else {
        pending.resolve(frame.data);
      }
      return;
    }
    if (frame.type === 'rtc:error') {
      this.emit('unsolicitedError', frame as ErrorReply);
      return;
    }
    this.emit('broadcast', { type: frame.type as BroadcastType, data: frame.data } as BroadcastMessage);
  }

  #onClose(code: number, reason: string, byUs: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#bucket.releaseAll();
    for (const [requestId, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(
        new CallError(ClientErrorCode.SignallingClosed, `Signalling closed before ${pending.type} was answered`, {
          requestType: pending.type,
        }),
      );
      this.#pending.delete(requestId);
    }
    this.emit('close', { code, reason, byUs });
    this.removeAllListeners();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
