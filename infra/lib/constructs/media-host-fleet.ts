// The media hosts: an Auto Scaling group of compute-optimised instances in
// public subnets, each running the media-host bundle under systemd.
//
// wss:// for browsers: every host gets its own name, <instance-id>.<media
// domain>, registered in Route 53 at boot, and a Let's Encrypt certificate
// for it (DNS-01 through Route 53, so no port 80). nginx on the host
// terminates TLS on 443. ACM certificates cannot be installed on an instance,
// and a load balancer cannot pin a meeting's WebSocket to one host without a
// listener or name per host (an NLB per host costs more than the host).
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import {
  AutoScalingGroup,
  DefaultResult,
  HealthChecks,
  LifecycleHook,
  LifecycleTransition,
  UpdatePolicy,
} from 'aws-cdk-lib/aws-autoscaling';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  type InstanceType,
  type IVpc,
  type LaunchTemplate,
  Peer,
  Port,
  SecurityGroup,
  type SubnetSelection,
  UserData,
} from 'aws-cdk-lib/aws-ec2';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IHostedZone } from 'aws-cdk-lib/aws-route53';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { mediaHostBootScript } from '../boot/media-host.js';
import { grantDnsRecordChanges } from './dns-permissions.js';
import { hostLaunchTemplate, isArm } from './host-launch-template.js';
import { MEDIA_HOST_MAIN } from './media-host-bundle.js';

export interface MediaHostFleetProps {
  vpc: IVpc;
  subnets: SubnetSelection;
  bundle: Asset;
  tables: { meetings: ITable; hosts: ITable };
  publicKeyParameter: IStringParameter;
  hostedZone: IHostedZone;
  /** e.g. media.example.com: hosts are <instance-id>.media.example.com */
  mediaDomain: string;
  acme: { email?: string; directoryUrl?: string };
  instanceType: InstanceType;
  minCapacity: number;
  maxCapacity: number;
  desiredCapacity?: number;
  /** mediasoup workers per host; worker i listens on rtcPortBase + i (UDP and TCP) */
  workersPerHost: number;
  rtcPortBase: number;
  meetingsPerHost: number;
  drainDeadline: Duration;
  nodeVersion: string;
  controlIssuer: string;
  /** browser origins allowed to open the signalling socket */
  allowedOrigins: string[];
}

/** plain HTTP port of the host process; only nginx on the instance reaches it */
export const MEDIA_HOST_PORT = 8090;
export const SIGNALLING_TLS_PORT = 443;

export class MediaHostFleet extends Construct {
  readonly autoScalingGroup: AutoScalingGroup;
  readonly securityGroup: SecurityGroup;
  readonly role: Role;
  readonly launchTemplate: LaunchTemplate;
  readonly drainHook: LifecycleHook;
  readonly rtcPorts: { first: number; last: number };

  constructor(scope: Construct, id: string, props: MediaHostFleetProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.rtcPorts = { first: props.rtcPortBase, last: props.rtcPortBase + props.workersPerHost - 1 };

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Media hosts: signalling over TLS and the WebRtcServer ports, nothing else',
      // apt, npm, Let's Encrypt, AWS APIs and WebRTC media to any peer
      allowAllOutbound: true,
    });
    this.securityGroup.addIngressRule(
      Peer.anyIpv4(),
      Port.tcp(SIGNALLING_TLS_PORT),
      'wss signalling and admin (nginx)',
    );
    this.securityGroup.addIngressRule(
      Peer.anyIpv4(),
      Port.udpRange(this.rtcPorts.first, this.rtcPorts.last),
      'WebRtcServer UDP, one port per worker',
    );
    this.securityGroup.addIngressRule(
      Peer.anyIpv4(),
      Port.tcpRange(this.rtcPorts.first, this.rtcPorts.last),
      'WebRtcServer TCP, one port per worker',
    );

    this.role = new Role(this, 'InstanceRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: 'Media host: registry heartbeats, participant left_at, placement release',
    });
    // hosts table: registry items and placements; meetings table: left_at and release only
    props.tables.hosts.grantReadWriteData(this.role);
    props.tables.meetings.grant(this.role, 'dynamodb:UpdateItem');
    props.publicKeyParameter.grantRead(this.role);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [`arn:${stack.partition}:s3:::${props.bundle.s3BucketName}/${props.bundle.s3ObjectKey}`],
      }),
    );
    grantDnsRecordChanges(this.role, {
      zone: props.hostedZone,
      recordNames: [`*.${props.mediaDomain.toLowerCase()}`],
      recordTypes: ['A', 'TXT'],
    });

    const userData = UserData.forLinux();
    const stopTimeout = props.drainDeadline.plus(Duration.seconds(60));
    userData.addCommands(
      ...mediaHostBootScript({
        bundle: { bucketName: props.bundle.s3BucketName, objectKey: props.bundle.s3ObjectKey, main: MEDIA_HOST_MAIN },
        publicKeyParameterName: props.publicKeyParameter.parameterName,
        hostedZoneId: props.hostedZone.hostedZoneId,
        mediaDomain: props.mediaDomain.toLowerCase(),
        acme: props.acme,
        nodeVersion: props.nodeVersion,
        nodeArch: isArm(props.instanceType) ? 'arm64' : 'x64',
        hostPort: MEDIA_HOST_PORT,
        env: {
          tableMeetings: props.tables.meetings.tableName,
          tableHosts: props.tables.hosts.tableName,
          workers: props.workersPerHost,
          rtcPortBase: props.rtcPortBase,
          capacityMeetings: props.meetingsPerHost,
          drainDeadlineMs: props.drainDeadline.toMilliseconds(),
          controlIssuer: props.controlIssuer,
          allowedOrigins: props.allowedOrigins,
        },
        stopTimeoutSeconds: stopTimeout.toSeconds(),
      }),
    );

    this.launchTemplate = hostLaunchTemplate(this, 'LaunchTemplate', {
      instanceType: props.instanceType,
      userData,
      role: this.role,
      securityGroup: this.securityGroup,
      rootVolumeGiB: 16,
      // the drain watcher reads the group name from the instance's tags
      instanceMetadataTags: true,
    });

    this.autoScalingGroup = new AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      launchTemplate: this.launchTemplate,
      minCapacity: props.minCapacity,
      maxCapacity: props.maxCapacity,
      desiredCapacity: props.desiredCapacity,
      healthChecks: HealthChecks.ec2({ gracePeriod: Duration.minutes(10) }),
      // a new launch template version (new bundle, new AMI) replaces hosts one at a time
      updatePolicy: UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: Math.max(0, Math.min(props.minCapacity, props.maxCapacity - 1)),
      }),
    });

    // Scale-in drains: the instance waits in Terminating:Wait until its drain
    // watcher completes the action, at the latest after the heartbeat timeout.
    this.drainHook = new LifecycleHook(this, 'DrainHook', {
      autoScalingGroup: this.autoScalingGroup,
      lifecycleTransition: LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: stopTimeout.plus(Duration.minutes(4)),
      defaultResult: DefaultResult.CONTINUE,
    });

    // A separate policy: the launch template depends on the role's default
    // policy, and this one names the group, which depends on the template.
    new Policy(this, 'LifecyclePolicy', {
      roles: [this.role],
      statements: [
        new PolicyStatement({
          actions: ['autoscaling:CompleteLifecycleAction'],
          resources: [
            stack.formatArn({
              service: 'autoscaling',
              resource: 'autoScalingGroup',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              resourceName: `*:autoScalingGroupName/${this.autoScalingGroup.autoScalingGroupName}`,
            }),
          ],
        }),
        // no resource-level permissions exist for Describe*
        new PolicyStatement({ actions: ['autoscaling:DescribeLifecycleHooks'], resources: ['*'] }),
      ],
    });
  }
}
