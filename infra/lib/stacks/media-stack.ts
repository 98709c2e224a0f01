// Stateless compute on EC2: the network, the TURN server and the media hosts.
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
import { HostedZone } from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import type { AppConfig } from '../config.js';
import { MediaHostBundle } from '../constructs/media-host-bundle.js';
import { MediaHostFleet } from '../constructs/media-host-fleet.js';
import { MEDIA_SUBNET_GROUP, Network, TURN_SUBNET_GROUP } from '../constructs/network.js';
import { TurnFleet } from '../constructs/turn-fleet.js';
import type { DataStack } from './data-stack.js';

export interface MediaStackProps extends StackProps {
  config: AppConfig;
  data: DataStack;
  /** media-host/main.ts */
  mediaHostEntry: string;
  projectRoot: string;
}

export class MediaStack extends Stack {
  readonly network: Network;
  readonly turn: TurnFleet;
  readonly mediaHosts: MediaHostFleet;
  readonly mediaHostBundle: MediaHostBundle;

  constructor(scope: Construct, id: string, props: MediaStackProps) {
    super(scope, id, props);
    const { config, data } = props;

    // attributes from context: no lookup at synth time
    const hostedZone = HostedZone.fromHostedZoneAttributes(this, 'Zone', {
      hostedZoneId: config.dns.hostedZoneId,
      zoneName: config.dns.zoneName,
    });
    this.network = new Network(this, 'Network', { cidr: config.vpcCidr });

    this.turn = new TurnFleet(this, 'Turn', {
      vpc: this.network.vpc,
      subnets: { subnetGroupName: TURN_SUBNET_GROUP },
      instanceType: new InstanceType(config.turn.instanceType),
      hostedZone,
      recordName: config.dns.turnRecordName,
      turnSecret: data.turnSecret,
      allowedPeerCidrs: this.network.mediaSubnetCidrs,
      acme: config.acme,
    });

    this.mediaHostBundle = new MediaHostBundle(this, 'MediaHostBundle', {
      entry: props.mediaHostEntry,
      projectRoot: props.projectRoot,
    });
    const mediaDomain = `${config.dns.mediaSubdomain}.${config.dns.zoneName}`;
    this.mediaHosts = new MediaHostFleet(this, 'MediaHosts', {
      vpc: this.network.vpc,
      subnets: { subnetGroupName: MEDIA_SUBNET_GROUP },
      bundle: this.mediaHostBundle.asset,
      tables: data.tables.tables,
      publicKeyParameter: data.signingKey.publicKeyParameter,
      hostedZone,
      mediaDomain,
      acme: config.acme,
      instanceType: new InstanceType(config.media.instanceType),
      minCapacity: config.media.minCapacity,
      maxCapacity: config.media.maxCapacity,
      desiredCapacity: config.media.desiredCapacity,
      workersPerHost: config.media.workersPerHost,
      rtcPortBase: config.media.rtcPortBase,
      meetingsPerHost: config.media.meetingsPerHost,
      drainDeadline: Duration.seconds(config.media.drainDeadlineSeconds),
      nodeVersion: config.media.nodeVersion,
      controlIssuer: config.controlIssuer,
      allowedOrigins: config.webOrigins,
    });

    new CfnOutput(this, 'TurnHost', { value: this.turn.hostName, description: 'TURN/STUN server name' });
    new CfnOutput(this, 'TurnPublicIp', { value: this.turn.address.attrPublicIp });
    new CfnOutput(this, 'MediaHostDomain', {
      value: mediaDomain,
      description: 'media hosts register <instance-id>.<this> in Route 53',
    });
    new CfnOutput(this, 'MediaHostGroupName', { value: this.mediaHosts.autoScalingGroup.autoScalingGroupName });
  }
}
