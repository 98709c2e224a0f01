// Stateful resources: the tables and the secrets. Termination protection is
// on and the tables are retained, so deleting this stack never loses data.
import { Stack, type StackProps } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { SigningKeyPair } from '../constructs/signing-key-pair.js';
import { Tables } from '../constructs/tables.js';

export interface DataStackProps extends StackProps {
  signingKeyVersion: number;
}

export class DataStack extends Stack {
  readonly tables: Tables;
  readonly signingKey: SigningKeyPair;
  /** coturn's static-auth-secret, shared with the control plane (TURN REST credentials) */
  readonly turnSecret: Secret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, terminationProtection: true });
    this.tables = new Tables(this, 'Tables');
    this.signingKey = new SigningKeyPair(this, 'SigningKey', { keyVersion: props.signingKeyVersion });
    this.turnSecret = new Secret(this, 'TurnSecret', {
      description: 'coturn static-auth-secret (use-auth-secret); the control plane derives TURN credentials from it',
      // alphanumeric: the value goes into turnserver.conf as is
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
  }
}
