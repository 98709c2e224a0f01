// A real `ws` signalling client for tests: request/response matching by
// requestId and a log of every frame received.
import WebSocket from 'ws';

export interface ReceivedMessage {
  type: string;
  requestId?: string;
  requestType?: string;
  data?: Record<string, unknown>;
  error?: string;
  code?: number;
}

export interface TestClientOptions {
  origin?: string;
  protocols?: string[];
  headers?: Record<string, string>;
}

/** Thrown by TestClient.connect when the server refuses the upgrade. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`);
  }
}

const WAIT_LIMIT_MS = 10_000;

export class TestClient {
  readonly ws: WebSocket;
  readonly received: ReceivedMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 1;
  #waiters: { match: (message: ReceivedMessage) => boolean; resolve: (message: ReceivedMessage) => void }[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as ReceivedMessage;
      this.received.push(message);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(message)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(message);
        }
      }
    });
  }

  static connect(url: string, options: TestClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.protocols ?? [], {
        ...(options.origin ? { origin: options.origin } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
      });
      ws.once('open', () => resolve(new TestClient(ws)));
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        response.on('end', () => reject(new UpgradeRefused(response.statusCode ?? 0, body)));
      });
      ws.once('error', reject);
    });
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Sends a request and resolves with its reply (success or rtc:error). */
  request(type: string, data: unknown, requestId = `r${this.#nextId++}`): Promise<ReceivedMessage> {
    const reply = this.waitFor((message) => message.requestId === requestId);
    this.ws.send(JSON.stringify({ type, data, requestId }));
    return reply;
  }

  /** Sends a request and returns the reply's data; fails on rtc:error. */
  async ok(type: string, data: unknown): Promise<Record<string, unknown>> {
    const reply = await this.request(type, data);
    if (reply.type === 'rtc:error') throw new Error(`${type} failed: ${reply.code} ${reply.error}`);
    return reply.data ?? {};
  }

  /** The first message (already received or future) that matches. */
  waitFor(match: string | ((message: ReceivedMessage) => boolean), seen = true): Promise<ReceivedMessage> {
    const predicate = typeof match === 'string' ? (message: ReceivedMessage) => message.type === match : match;
    if (seen) {
      const found = this.received.find(predicate);
      if (found) return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter.resolve !== done);
        reject(new Error(`no message matching ${String(match)} within ${WAIT_LIMIT_MS} ms`));
      }, WAIT_LIMIT_MS);
      const done = (message: ReceivedMessage) => {
        clearTimeout(timer);
        resolve(message);
      };
      this.#waiters.push({ match: predicate, resolve: done });
    });
  }

  ofType(type: string): ReceivedMessage[] {
    return this.received.filter((message) => message.type === type);
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}
