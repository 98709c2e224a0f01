// One local stack (DynamoDB Local, coturn, media host, control plane serving
// the demo) and one Chromium per test file. The children's log lines are kept
// in memory and printed only when a test fails (E2E_LOG=1 prints them live).
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Browser } from 'playwright-core';
import { createDocumentClient } from '../../../control/store/dynamo-client.js';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../../scripts/local-stack.js';
import { keys, type ParticipantItem } from '../../../shared/tables.js';
import { launchChromium } from '../../support/chromium.js';
import type { Participant } from './demo.js';

const LOG_LINES = 400;

export interface E2eEnv {
  stack: LocalStack;
  browser: Browser;
  participants: Participant[];
  /** the last log lines of the stack's processes */
  logs: string[];
  participantItem(meetingId: string, userId: string): Promise<ParticipantItem | undefined>;
  /** stack and browser log lines worth printing after a failure */
  failureReport(): string;
  stop(): Promise<void>;
}

export async function startE2eEnv(options: Pick<LocalStackOptions, 'turn' | 'mediaHostEnv'> = {}): Promise<E2eEnv> {
  const logs: string[] = [];
  const live = process.env.E2E_LOG === '1';
  const [stack, browser] = await Promise.all([
    startLocalStack({
      controlPort: 0,
      mediaPort: 0,
      rtcPortBase: 0,
      numWorkers: 1,
      demo: true,
      ...options,
      onLog: (source, line) => {
        if (live) process.stdout.write(`[${source}] ${line}\n`);
        // Node's version warning is noise
        if (/NodeVersionSupportWarning|AWS SDK for JavaScript|node >=22|a\.co\/|trace-warnings|^\s*$/.test(line)) {
          return;
        }
        logs.push(`[${source}] ${line}`);
        if (logs.length > LOG_LINES) logs.splice(0, logs.length - LOG_LINES);
      },
    }),
    launchChromium(),
  ]);
  // The document client is the control plane's own factory, pointed at this stack's DynamoDB Local.
  const ddb: DynamoDBDocumentClient = createDocumentClient({ region: stack.region, endpoint: stack.dynamoEndpoint });
  const participants: Participant[] = [];

  return {
    stack,
    browser,
    participants,
    logs,
    async participantItem(meetingId, userId) {
      const result = await ddb.send(
        new GetCommand({
          TableName: stack.tables.meetings,
          Key: keys.participant(meetingId, userId),
          ConsistentRead: true,
        }),
      );
      return result.Item as ParticipantItem | undefined;
    },
    failureReport() {
      const browserLines = participants.flatMap((p) => p.consoleErrors);
      return [
        '--- stack log (last lines) ---',
        ...logs.slice(-120),
        '--- browser errors ---',
        ...browserLines.slice(-60),
      ].join('\n');
    },
    async stop() {
      ddb.destroy();
      await browser.close().catch(() => {});
      await stack.stop();
    },
  };
}
