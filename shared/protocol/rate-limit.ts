// The signalling rate limit's credit rule, shared by the media host (which
// enforces it) and the browser SDK (which paces itself by it). What a join
// costs grows with the meeting: every producer the host announces is
// answered by rtc:consume and rtc:resumeConsumer, so each announcement comes
// with the tokens for those two requests. No zod here: the SDK bundles it.

/** Requests a client sends to take up one announced producer (rtc:consume, then rtc:resumeConsumer). */
export const REQUESTS_PER_ANNOUNCED_PRODUCER = 2;

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
