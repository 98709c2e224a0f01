// The media host's DynamoDB stores, built from one injected client.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TableNames } from '../../shared/tables.js';
import { createMediaHostDocumentClient, type DynamoSettings } from './dynamo-client.js';
import { HostRegistryStore } from './host-registry-store.js';
import { ParticipantStore } from './participant-store.js';

export interface MediaHostStores {
  hosts: HostRegistryStore;
  participants: ParticipantStore;
  /** releases the SDK client */
  destroy(): void;
}

export function createMediaHostStores(settings: DynamoSettings, tables: TableNames): MediaHostStores {
  const client: DynamoDBDocumentClient = createMediaHostDocumentClient(settings);
  return {
    hosts: new HostRegistryStore(client, tables),
    participants: new ParticipantStore(client, tables),
    destroy: () => client.destroy(),
  };
}
