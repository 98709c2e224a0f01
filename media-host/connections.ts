// Open signalling connections, by meeting and user: answers "does this user
// still have another live connection in this meeting?" (left_at) and lets
// the admin endpoint reach connections that have not joined yet.

export interface TrackedConnection {
  readonly meetingId: string;
  readonly userId: string;
  /** open and not left the meeting */
  readonly live: boolean;
}

export class ConnectionRegistry<C extends TrackedConnection = TrackedConnection> {
  readonly #byMeetingUser = new Map<string, Set<C>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(connection: C): void {
    const key = keyOf(connection);
    let set = this.#byMeetingUser.get(key);
    if (!set) {
      set = new Set();
      this.#byMeetingUser.set(key, set);
    }
    if (!set.has(connection)) {
      set.add(connection);
      this.#size++;
    }
  }

  remove(connection: C): void {
    const key = keyOf(connection);
    const set = this.#byMeetingUser.get(key);
    if (!set?.delete(connection)) return;
    this.#size--;
    if (set.size === 0) this.#byMeetingUser.delete(key);
  }

  hasOtherLive(connection: C): boolean {
    for (const other of this.#byMeetingUser.get(keyOf(connection)) ?? []) {
      if (other !== connection && other.live) return true;
    }
    return false;
  }

  forMeeting(meetingId: string): C[] {
    const found: C[] = [];
    for (const set of this.#byMeetingUser.values()) {
      for (const connection of set) if (connection.meetingId === meetingId) found.push(connection);
    }
    return found;
  }

  all(): C[] {
    return [...this.#byMeetingUser.values()].flatMap((set) => [...set]);
  }
}

function keyOf(connection: TrackedConnection): string {
  return `${connection.meetingId}\n${connection.userId}`;
}
