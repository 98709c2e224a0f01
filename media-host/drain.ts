// Graceful shutdown: mark the host DRAINING (no new placements), wait for its
// rooms to empty up to a deadline, then close everything.

export interface Drainable {
  /** sets DRAINING in the registry and makes /readyz answer 503 */
  startDraining(): Promise<void>;
  roomCount(): number;
  /** resolves when a room closes */
  onRoomClosed(listener: () => void): () => void;
  close(): Promise<void>;
}

export type DrainOutcome = 'empty' | 'deadline';

export async function drain(host: Drainable, deadlineMs: number): Promise<DrainOutcome> {
  await host.startDraining();
  const outcome = await new Promise<DrainOutcome>((resolve) => {
    if (host.roomCount() === 0) {
      resolve('empty');
      return;
    }
    const timer = setTimeout(() => {
      unsubscribe();
      resolve('deadline');
    }, deadlineMs);
    const unsubscribe = host.onRoomClosed(() => {
      if (host.roomCount() > 0) return;
      clearTimeout(timer);
      unsubscribe();
      resolve('empty');
    });
  });
  await host.close();
  return outcome;
}
