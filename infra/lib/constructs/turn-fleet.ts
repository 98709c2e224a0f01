// coturn on EC2: one instance (an Auto Scaling group of one, so a failed
// instance is replaced) holding a fixed Elastic IP named <turn>.<zone> in
// Route 53. `use-auth-secret` with the secret the control plane derives TURN
// credentials from; UDP/TCP 3478 and TLS (turns:) on 443.
import { Duration, Stack } from 'aws-cdk-lib';
import { AutoScalingGroup, HealthChecks, UpdatePolicy } from 'aws-cdk-lib/aws-autoscaling';
import {
  CfnEIP,
  type InstanceType,
  type IVpc,
  type LaunchTemplate,
  Peer,
  Port,
  SecurityGroup,
  type SubnetSelection,
  UserData,
} from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ARecord, type IHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { TURN_LISTENING_PORT, TURN_RELAY_PORTS, TURN_TLS_PORT, turnServerBootScript } from '../boot/turn-server.js';
import { ipv4CidrToRange } from '../net.js';
import { grantDnsRecordChanges } from './dns-permissions.js';
import { hostLaunchTemplate } from './host-launch-template.js';

export interface TurnFleetProps {
  vpc: IVpc;
  subnets: SubnetSelection;
  instanceType: InstanceType;
  hostedZone: IHostedZone;
  /** the TURN server's name inside the zone, e.g. "turn" */
  recordName: string;
  turnSecret: ISecret;
  /** relaying may reach these IPv4 CIDRs despite the private-range deny (the media subnets) */
  allowedPeerCidrs: string[];
  acme: { email?: string; directoryUrl?: string };
}

export class TurnFleet extends Construct {
  readonly securityGroup: SecurityGroup;
  readonly role: Role;
  readonly launchTemplate: LaunchTemplate;
  readonly autoScalingGroup: AutoScalingGroup;
  readonly address: CfnEIP;
  /** DNS name the certificate is for, e.g. turn.example.com */
  readonly hostName: string;
  /** turn:/turns: URLs for the control plane's iceServers */
  readonly turnUrls: string[];
  readonly stunUrls: string[];

  constructor(scope: Construct, id: string, props: TurnFleetProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const zoneName = props.hostedZone.zoneName.replace(/\.$/, '').toLowerCase();
    this.hostName = `${props.recordName.toLowerCase()}.${zoneName}`;
    this.turnUrls = [
      `turn:${this.hostName}:${TURN_LISTENING_PORT}?transport=udp`,
      `turn:${this.hostName}:${TURN_LISTENING_PORT}?transport=tcp`,
      `turns:${this.hostName}:${TURN_TLS_PORT}?transport=tcp`,
    ];
    this.stunUrls = [`stun:${this.hostName}:${TURN_LISTENING_PORT}`];

    this.address = new CfnEIP(this, 'Address', { domain: 'vpc' });
    new ARecord(this, 'DnsRecord', {
      zone: props.hostedZone,
      recordName: this.hostName,
      target: RecordTarget.fromIpAddresses(this.address.attrPublicIp),
      ttl: Duration.minutes(5),
    });

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'TURN: 3478 UDP/TCP, TLS on 443, the relay port range',
      // relayed media goes to any public peer; apt, Let's Encrypt and AWS APIs
      allowAllOutbound: true,
    });
    this.securityGroup.addIngressRule(Peer.anyIpv4(), Port.udp(TURN_LISTENING_PORT), 'TURN/STUN over UDP');
    this.securityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(TURN_LISTENING_PORT), 'TURN/STUN over TCP');
    this.securityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(TURN_TLS_PORT), 'TURN over TLS (turns:)');
    this.securityGroup.addIngressRule(
      Peer.anyIpv4(),
      Port.udpRange(TURN_RELAY_PORTS.min, TURN_RELAY_PORTS.max),
      'TURN relay addresses',
    );

    this.role = new Role(this, 'InstanceRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: 'TURN server: read the TURN secret, take its Elastic IP, solve its ACME challenge',
    });
    props.turnSecret.grantRead(this.role);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ec2:AssociateAddress'],
        // only this Elastic IP; the instance side cannot name an instance not yet launched
        resources: [
          stack.formatArn({ service: 'ec2', resource: 'elastic-ip', resourceName: this.address.attrAllocationId }),
          stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
          stack.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' }),
        ],
      }),
    );
    grantDnsRecordChanges(this.role, {
      zone: props.hostedZone,
      recordNames: [`_acme-challenge.${this.hostName}`],
      recordTypes: ['TXT'],
    });

    const userData = UserData.forLinux();
    userData.addCommands(
      ...turnServerBootScript({
        allocationId: this.address.attrAllocationId,
        publicIp: this.address.attrPublicIp,
        hostName: this.hostName,
        realm: zoneName,
        turnSecretArn: props.turnSecret.secretArn,
        allowedPeerRanges: props.allowedPeerCidrs.map(ipv4CidrToRange),
        acme: props.acme,
      }),
    );

    this.launchTemplate = hostLaunchTemplate(this, 'LaunchTemplate', {
      instanceType: props.instanceType,
      userData,
      role: this.role,
      securityGroup: this.securityGroup,
      rootVolumeGiB: 8,
    });

    // One instance: the Elastic IP and the TURN name belong to it.
    this.autoScalingGroup = new AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      launchTemplate: this.launchTemplate,
      minCapacity: 1,
      maxCapacity: 1,
      healthChecks: HealthChecks.ec2({ gracePeriod: Duration.minutes(5) }),
      updatePolicy: UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: 0 }),
    });
  }
}
