// DynamoDB tables and keys, defined once. infra/ deploys these definitions,
// the local stack and the tests create DynamoDB Local tables from them, and
// the store modules build every key through `keys`.

export interface TableDefinition {
  /** CDK construct id; keep stable, it names the CloudFormation logical id */
  constructId: string;
  partitionKey: { name: string; type: 'S' };
  sortKey: { name: string; type: 'S' };
  /** epoch-seconds attribute DynamoDB expires items by */
  timeToLiveAttribute?: string;
}

/** Meetings and their participants (stands in for REQ-002's tables). */
export const meetingsTable: TableDefinition = {
  constructId: 'MeetingsTable',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
};

/** The media-host registry (heartbeats). */
export const hostsTable: TableDefinition = {
  constructId: 'HostsTable',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
};

export const tableDefinitions = { meetings: meetingsTable, hosts: hostsTable } as const;
export type TableName = keyof typeof tableDefinitions;

/** Physical names are never fixed in code: they come from configuration. */
export interface TableNames {
  meetings: string;
  hosts: string;
}

export interface ItemKey {
  pk: string;
  sk: string;
}

export const keys = {
  meeting: (meetingId: string): ItemKey => ({ pk: `MEETING#${meetingId}`, sk: 'META' }),
  participant: (meetingId: string, userId: string): ItemKey => ({
    pk: `MEETING#${meetingId}`,
    sk: `PARTICIPANT#${userId}`,
  }),
  participantPrefix: 'PARTICIPANT#',
  /** every host lives in one partition, so listing live hosts is one Query */
  host: (hostId: string): ItemKey => ({ pk: 'HOST', sk: hostId }),
  hostPartition: 'HOST',
} as const;

// ---- item shapes (attribute names as stored) ----

export interface MeetingItem extends ItemKey {
  meetingId: string;
  title: string;
  status: 'ACTIVE' | 'ENDED';
  hostUserId: string;
  createdAt: string;
  endedAt?: string;
  endedBy?: string;
  /** placement: the media host serving the meeting */
  mediaHostId?: string;
  assignedAt?: string;
}

/** Attribute names mirror REQ-002's meeting_participants columns. */
export interface ParticipantItem extends ItemKey {
  meeting_id: string;
  user_id: string;
  nickname: string;
  joined_at: string;
  left_at?: string;
}

export type HostStatus = 'ACTIVE' | 'DRAINING';

export interface HostLoad {
  rooms: number;
  peers: number;
  producers: number;
  consumers: number;
  /** mean worker CPU share over the last interval, 0..1 per worker */
  workerCpu: number;
}

export interface HostItem extends ItemKey {
  hostId: string;
  /** public ws(s):// base URL browsers connect to (without path) */
  signalingUrl: string;
  /** base URL the control plane calls for admin requests */
  adminUrl: string;
  region: string;
  zone: string;
  status: HostStatus;
  /** meetings this host accepts */
  capacity: number;
  /** meetings assigned to it (control plane reserves, host releases) */
  assigned: number;
  load: HostLoad;
  /** epoch ms of the last heartbeat */
  heartbeatAt: number;
  startedAt: string;
  /** TTL (epoch seconds): a host that stops heartbeating disappears */
  expiresAt: number;
}
