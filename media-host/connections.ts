// Open signalling connections, by meeting and user: answers "does this user
// still have another live connection in this meeting?" (left_at), "can anyone
// here still join this meeting?" (placement release) and lets the admin
// endpoint reach connections that have not joined yet.

export interface TrackedConnection {
  readonly meetingId: string;
  readonly userId: string;
  /** open and not left the meeting */
  readonly live: boolean;
}

export class ConnectionRegistry<C extends TrackedConnection = TrackedConnection> {
  readonly #byMeetingUser = new Map<string, Set<C>>();
  readonly #byMeeting = new Map<string, Set<C>>();
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
      let meeting = this.#byMeeting.get(connection.meetingId);
      if (!meeting) {
        meeting = new Set();
        this.#byMeeting.set(connection.meetingId, meeting);
      }
      meeting.add(connection);
    }
  }

  remove(connection: C): void {
    const key = keyOf(connection);
    const set = this.#byMeetingUser.get(key);
    if (!set?.delete(connection)) return;
    this.#size--;
    if (set.size === 0) this.#byMeetingUser.delete(key);
    const meeting = this.#byMeeting.get(connection.meetingId);
    meeting?.delete(connection);
    if (meeting?.size === 0) this.#byMeeting.delete(connection.meetingId);
  }

  hasOtherLive(connection: C): boolean {
    for (const other of this.#byMeetingUser.get(keyOf(connection)) ?? []) {
      if (other !== connection && other.live) return true;
    }
    return false;
  }

  /** Open connections for the meeting, joined or not. */
  forMeeting(meetingId: string): C[] {
    return [...(this.#byMeeting.get(meetingId) ?? [])];
  }

  /** Whether a connection that can still join (open, not left) exists for the meeting. */
  hasLiveInMeeting(meetingId: string): boolean {
    for (const connection of this.#byMeeting.get(meetingId) ?? []) if (connection.live) return true;
    return false;
  }

  all(): C[] {
    return [...this.#byMeetingUser.values()].flatMap((set) => [...set]);
  }
}

function keyOf(connection: TrackedConnection): string {
  return `${connection.meetingId}\n${connection.userId}`;
}
