// The signalling rate limit's credit rule, shared by the media host (which
// enforces it) and the browser SDK (which paces itself by it). What a join
// costs grows with the meeting: every producer the host announces is
// answered by rtc:consume and rtc:resumeConsumer, so each announcement comes
// with credit for those two requests. Credit pays for answers only, never
// for anything else, so it cannot be passed around to lift the limit.
// No zod here: the SDK bundles it.

/** The requests that answer an announced producer, and so may be paid from credit. */
export const ANSWER_REQUEST_TYPES: readonly string[] = ['rtc:consume', 'rtc:resumeConsumer'];

/** Requests a client sends to take up one announced producer (rtc:consume, then rtc:resumeConsumer). */
export const REQUESTS_PER_ANNOUNCED_PRODUCER = ANSWER_REQUEST_TYPES.length;

/** Whether a request of this type answers an announcement (and may be paid from credit). */
export function isAnswerRequest(type: string | undefined): boolean {
  return type !== undefined && ANSWER_REQUEST_TYPES.includes(type);
}

/** Producers a server message announces to its receiver: rtc:joined lists them, rtc:newProducer adds one. */
export function announcedProducers(message: { type: string; data?: unknown }): number {
  if (message.type === 'rtc:newProducer') return 1;
  if (message.type !== 'rtc:joined') return 0;
  const peers = (message.data as { peers?: unknown } | undefined)?.peers;
  if (!Array.isArray(peers)) return 0;
  let count = 0;
  for (const peer of peers) {
    const producers = (peer as { producers?: unknown } | null)?.producers;
    if (Array.isArray(producers)) count += producers.length;
  }
  return count;
}
