// The ES256 key pair that signs media-join and service tokens. The private key
// is generated inside AWS at deploy time (a custom resource writes it straight
// into Secrets Manager), so it never appears in the template, an asset or a
// log. The public key is published as an SSM parameter for the media hosts.
import { CustomResource, Duration } from 'aws-cdk-lib';
import { Architecture, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export interface SigningKeyPairProps {
  /** bump to generate a new key pair (hosts pick up the new public key when they are replaced) */
  keyVersion: number;
}

// Runs in the Node 22 Lambda runtime, which ships AWS SDK v3. It keeps an
// existing valid P-256 key (idempotent updates) unless keyVersion changed.
const generatorSource = `
const { generateKeyPairSync, createPrivateKey, createPublicKey } = require('node:crypto');
const { SecretsManagerClient, GetSecretValueCommand, PutSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
const client = new SecretsManagerClient({});
function usablePrivateKey(pem) {
  try {
    const key = createPrivateKey(pem);
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails.namedCurve === 'prime256v1';
  } catch { return false; }
}
exports.handler = async (event) => {
  const secretId = event.ResourceProperties.SecretArn;
  const physicalId = 'signing-key-pair';
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const rotate = event.RequestType === 'Update' &&
    event.OldResourceProperties.KeyVersion !== event.ResourceProperties.KeyVersion;
  const current = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  let privatePem = current.SecretString;
  if (rotate || !usablePrivateKey(privatePem)) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' });
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: privatePem }));
  }
  const publicKeyPem = createPublicKey(privatePem).export({ type: 'spki', format: 'pem' });
  return { PhysicalResourceId: physicalId, Data: { PublicKeyPem: publicKeyPem } };
};
`;

export class SigningKeyPair extends Construct {
  /** PKCS8 PEM of the private key (SecretString); only the control plane reads it */
  readonly privateKeySecret: Secret;
  /** SPKI PEM of the public key; the media hosts read it at boot */
  readonly publicKeyParameter: StringParameter;

  constructor(scope: Construct, id: string, props: SigningKeyPairProps) {
    super(scope, id);

    // Created with a random placeholder; the generator replaces it with the PEM.
    this.privateKeySecret = new Secret(this, 'PrivateKey', {
      description: 'ES256 private key (PKCS8 PEM) the control plane signs media-join and service tokens with',
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    });

    const generator = new LambdaFunction(this, 'Generator', {
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      handler: 'index.handler',
      code: Code.fromInline(generatorSource),
      memorySize: 128,
      timeout: Duration.seconds(30),
      logGroup: new LogGroup(this, 'GeneratorLogs', { retention: RetentionDays.ONE_MONTH }),
    });
    this.privateKeySecret.grantRead(generator);
    this.privateKeySecret.grantWrite(generator);

    const provider = new Provider(this, 'Provider', { onEventHandler: generator });
    const keyPair = new CustomResource(this, 'KeyPair', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SigningKeyPair',
      properties: { SecretArn: this.privateKeySecret.secretArn, KeyVersion: String(props.keyVersion) },
    });

    this.publicKeyParameter = new StringParameter(this, 'PublicKey', {
      description: 'ES256 public key (SPKI PEM) media hosts verify control-plane tokens with',
      stringValue: keyPair.getAttString('PublicKeyPem'),
    });
  }
}
