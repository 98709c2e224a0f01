import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TURN_DENIED_PEER_RANGES } from '../../shared/turn-policy.js';
import {
  actionsOf,
  flatten,
  importsAttribute,
  onlyResource,
  repoRoot,
  resources,
  resourcesOf,
  type SynthesizedApp,
  stagedAssetDir,
  statementsForRole,
  synthRtcApp,
  userDataOf,
} from './synth.js';

let synth: SynthesizedApp;
let media: Template;

beforeAll(() => {
  synth = synthRtcApp();
  media = synth.templates.media;
});

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

type Ingress = { IpProtocol: string; FromPort: number; ToPort: number; CidrIp?: string; CidrIpv6?: string };

function ingressOf(securityGroupPrefix: string): Ingress[] {
  const [id, group] = onlyResource(media, 'AWS::EC2::SecurityGroup', securityGroupPrefix);
  const inline = (group.Properties.SecurityGroupIngress as Ingress[]) ?? [];
  // separate ingress resources would open ports too
  const separate = resources(media, 'AWS::EC2::SecurityGroupIngress')
    .filter(([, r]) => JSON.stringify(r.Properties.GroupId).includes(id))
    .map(([, r]) => r.Properties as unknown as Ingress);
  return [...inline, ...separate].map(({ IpProtocol, FromPort, ToPort, CidrIp }) => ({
    IpProtocol,
    FromPort,
    ToPort,
    CidrIp,
  }));
}

function subnetCidrs(group: 'Media' | 'Turn'): { id: string; cidr: string }[] {
  return resources(media, 'AWS::EC2::Subnet')
    .filter(([id]) => id.startsWith(`NetworkVpc${group}Subnet`))
    .map(([id, subnet]) => ({ id, cidr: subnet.Properties.CidrBlock as string }));
}

function launchTemplateData(prefix: string): Record<string, unknown> {
  const [, template] = onlyResource(media, 'AWS::EC2::LaunchTemplate', prefix);
  return template.Properties.LaunchTemplateData as Record<string, unknown>;
}

describe('Network', () => {
  it('has public subnets only and no NAT gateway', () => {
    media.resourceCountIs('AWS::EC2::NatGateway', 0);
    media.resourceCountIs('AWS::EC2::VPC', 1);
    const subnets = resources(media, 'AWS::EC2::Subnet');
    expect(subnets).toHaveLength(4);
    for (const [, subnet] of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(true);
    for (const [, route] of resources(media, 'AWS::EC2::Route')) expect(route.Properties.GatewayId).toBeDefined();
  });
});

describe('MediaHostFleet', () => {
  it('opens exactly TLS 443 and the WebRtcServer UDP/TCP ports (one per worker), nothing else', () => {
    const anywhere = '0.0.0.0/0';
    expect(ingressOf('MediaHostsSecurityGroup')).toEqual([
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: anywhere },
      { IpProtocol: 'udp', FromPort: 40000, ToPort: 40003, CidrIp: anywhere },
      { IpProtocol: 'tcp', FromPort: 40000, ToPort: 40003, CidrIp: anywhere },
    ]);
  });

  it('launches compute-optimised Ubuntu instances with IMDSv2 required, from an SSM AMI parameter (no lookup)', () => {
    const data = launchTemplateData('MediaHostsLaunchTemplate');
    expect(data.InstanceType).toBe('c7g.xlarge');
    expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required', InstanceMetadataTags: 'enabled' });
    const parameters = media.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    const ami = parameters[(data.ImageId as { Ref: string }).Ref];
    expect(ami?.Type).toBe('AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
    expect(ami?.Default).toBe('/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id');
  });

  it('runs an Auto Scaling group sized from props in the media subnets', () => {
    const [, group] = onlyResource(media, 'AWS::AutoScaling::AutoScalingGroup', 'MediaHostsGroup');
    expect(group.Properties).toMatchObject({ MinSize: '1', MaxSize: '3' });
    expect(group.Properties.AutoScalingGroupName).toBeUndefined();
    const subnetRefs = (group.Properties.VPCZoneIdentifier as { Ref: string }[]).map((ref) => ref.Ref).sort();
    expect(subnetRefs).toEqual(
      subnetCidrs('Media')
        .map((subnet) => subnet.id)
        .sort(),
    );
  });

  it('drains on scale-in: a termination lifecycle hook that outlasts the drain deadline', () => {
    const [groupId] = onlyResource(media, 'AWS::AutoScaling::AutoScalingGroup', 'MediaHostsGroup');
    const [, hook] = onlyResource(media, 'AWS::AutoScaling::LifecycleHook', 'MediaHostsDrainHook');
    expect(hook.Properties).toMatchObject({
      AutoScalingGroupName: { Ref: groupId },
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      DefaultResult: 'CONTINUE',
    });
    const drainSeconds = synth.config.media.drainDeadlineSeconds;
    const stopTimeout = Number(/TimeoutStopSec=(\d+)/.exec(userDataOf(media, 'MediaHostsLaunchTemplate'))?.[1]);
    expect(stopTimeout).toBeGreaterThan(drainSeconds);
    expect(hook.Properties.HeartbeatTimeout).toBeGreaterThan(stopTimeout);
  });

  describe('user data', () => {
    let script: string;
    beforeAll(() => {
      script = userDataOf(media, 'MediaHostsLaunchTemplate');
    });

    it('finds its public IPv4 through IMDSv2 (token PUT, then GET) and announces it to WebRTC', () => {
      expect(script).toContain('curl -fsS -X PUT http://169.254.169.254/latest/api/token');
      expect(script).toContain('X-aws-ec2-metadata-token: $token');
      expect(script).toContain('PUBLIC_IP=$(imds public-ipv4)');
      expect(script).toContain('echo "RTC_ANNOUNCED_ADDRESS=$PUBLIC_IP"');
    });

    it('installs Node 20 and the bundle from the S3 asset, then npm-installs mediasoup', () => {
      expect(script).toMatch(/https:\/\/nodejs\.org\/dist\/v20\.\d+\.\d+\/node-v20\.\d+\.\d+-linux-arm64\.tar\.xz/);
      expect(script).toContain('sha256sum -c -');
      const bundleKey = synth.stacks.media.mediaHostBundle.asset.assetHash;
      expect(script).toMatch(new RegExp(`aws s3 cp 's3://.*/${bundleKey}\\.zip' /tmp/media-host\\.zip`));
      expect(script).toContain('npm install --omit=dev');
    });

    it('runs the host under systemd with Restart=always and SIGTERM to the Node process only', () => {
      expect(script).toContain('ExecStart=/usr/local/bin/node /opt/media-host/main.mjs');
      expect(script).toContain('Restart=always');
      expect(script).toContain('KillMode=mixed');
      expect(script).toContain('KillSignal=SIGTERM');
      expect(script).toContain('systemctl enable --now media-host.service media-host-drain-watch.service');
    });

    it('configures the host for its ports, tables, key and origins', () => {
      for (const line of [
        "'NUM_WORKERS=4'",
        "'RTC_PORT_BASE=40000'",
        "'LISTEN_HOST=127.0.0.1'",
        "'PORT=8090'",
        "'CONTROL_PUBLIC_KEY_FILE=/etc/media-host/control-public-key.pem'",
        "'ALLOWED_ORIGINS=https://app.rtc.test,https://admin.rtc.test'",
        "'DRAIN_DEADLINE_MS=600000'",
        '"PUBLIC_SIGNALING_URL=wss://$HOST_NAME"',
        '"ADMIN_URL=https://$HOST_NAME"',
      ]) {
        expect(script).toContain(`echo ${line}`);
      }
      expect(script).toMatch(/TABLE_MEETINGS=\{\{"Fn::ImportValue":"RtcData:ExportsOutputRefMeetingsTable/);
      expect(script).toMatch(/TABLE_HOSTS=\{\{"Fn::ImportValue":"RtcData:ExportsOutputRefHostsTable/);
      expect(script).toMatch(
        /aws ssm get-parameter --name '\{\{"Fn::ImportValue":"RtcData:ExportsOutputRefSigningKeyPublicKey/,
      );
    });

    it('gets a per-host DNS name and a Let’s Encrypt certificate by DNS-01, and terminates TLS in nginx', () => {
      expect(script).toContain('HOST_NAME="$INSTANCE_ID.media.rtc.test"');
      expect(script).toContain('--hosted-zone-id Z0123456789TESTZONE');
      expect(script).toContain('certbot certonly --non-interactive --agree-tos --dns-route53 --cert-name media-host');
      expect(script).toContain("-m 'ops@rtc.test'");
      expect(script).toContain('listen 443 ssl;');
      expect(script).toContain('proxy_pass http://127.0.0.1:8090;');
      // the join token rides in the query string: access logs record $uri only
      expect(script).toContain('access_log /var/log/nginx/access.log media_host_no_query;');
      expect(script).toMatch(/log_format media_host_no_query '[^']*\$uri[^']*'/);
      expect(script).not.toMatch(/log_format media_host_no_query '[^']*\$request[ "]/);
    });

    it('completes the termination hook after draining', () => {
      expect(script).toContain('autoscaling/target-lifecycle-state');
      expect(script).toContain('systemctl stop media-host.service');
      expect(script).toContain('--lifecycle-action-result CONTINUE');
    });

    it('fits the 16 KB user-data limit', () => {
      expect(script.length).toBeLessThan(16_384);
    });
  });

  it('bundles media-host/main.ts with esbuild, mediasoup left external and declared for npm', () => {
    const dir = stagedAssetDir(synth.app, synth.stacks.media.mediaHostBundle.asset.assetPath);
    expect(existsSync(join(dir, 'main.mjs'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ type: 'module', dependencies: { mediasoup: root.dependencies.mediasoup } });
    const main = readFileSync(join(dir, 'main.mjs'), 'utf8');
    expect(main).toMatch(/from\s*["']mediasoup["']/);
  });

  describe('instance role', () => {
    const statements = () => statementsForRole(media, 'MediaHostsInstanceRole');

    it('reads and writes items of the hosts table and only updates items of the meetings table', () => {
      const dynamo = statements().filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      const onMeetings = dynamo.filter((s) => resourcesOf(s).some((r) => importsAttribute(r, 'MeetingsTable', 'Arn')));
      expect(onMeetings.flatMap(actionsOf)).toEqual(['dynamodb:UpdateItem']);
      const onHosts = dynamo.filter((s) => resourcesOf(s).some((r) => importsAttribute(r, 'HostsTable', 'Arn')));
      expect(onHosts.flatMap(actionsOf)).toEqual(
        expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']),
      );
      for (const statement of dynamo) {
        for (const resource of resourcesOf(statement)) {
          expect(
            importsAttribute(resource, 'HostsTable', 'Arn') || importsAttribute(resource, 'MeetingsTable', 'Arn'),
          ).toBe(true);
        }
      }
    });

    it('reads the public-key parameter and exactly the bundle object', () => {
      const ssm = statements().filter((s) => actionsOf(s).some((a) => a.startsWith('ssm:')));
      expect(ssm).toHaveLength(1);
      expect(JSON.stringify(ssm[0]!.Resource)).toContain('ExportsOutputRefSigningKeyPublicKey');
      const s3 = statements().filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
      expect(s3.flatMap(actionsOf)).toEqual(['s3:GetObject']);
      expect(JSON.stringify(s3[0]!.Resource)).toContain(`${synth.stacks.media.mediaHostBundle.asset.assetHash}.zip`);
    });

    it('changes only A/TXT records under the media domain, and completes only its own group’s hook', () => {
      const route53 = statements().find((s) => actionsOf(s).includes('route53:ChangeResourceRecordSets'));
      expect(route53?.Condition).toEqual({
        'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['*.media.rtc.test'] },
        'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['A', 'TXT'] },
      });
      expect(JSON.stringify(route53?.Resource)).toContain(':route53:::hostedzone/Z0123456789TESTZONE');
      const [groupId] = onlyResource(media, 'AWS::AutoScaling::AutoScalingGroup', 'MediaHostsGroup');
      const complete = statements().find((s) => actionsOf(s).includes('autoscaling:CompleteLifecycleAction'));
      expect(flatten(complete?.Resource)).toMatch(
        new RegExp(`:autoscaling:.*:autoScalingGroup:\\*:autoScalingGroupName/\\{\\{"Ref":"${groupId}"\\}\\}$`),
      );
    });
  });
});

describe('TurnFleet', () => {
  it('opens exactly 3478 UDP/TCP, TLS 443 and the UDP relay range', () => {
    const anywhere = '0.0.0.0/0';
    expect(ingressOf('TurnSecurityGroup')).toEqual([
      { IpProtocol: 'udp', FromPort: 3478, ToPort: 3478, CidrIp: anywhere },
      { IpProtocol: 'tcp', FromPort: 3478, ToPort: 3478, CidrIp: anywhere },
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: anywhere },
      { IpProtocol: 'udp', FromPort: 49152, ToPort: 65535, CidrIp: anywhere },
    ]);
  });

  it('is one small instance with IMDSv2 required, a fixed Elastic IP and a DNS name', () => {
    const data = launchTemplateData('TurnLaunchTemplate');
    expect(data.InstanceType).toBe('t4g.small');
    expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required' });
    const [, group] = onlyResource(media, 'AWS::AutoScaling::AutoScalingGroup', 'TurnGroup');
    expect(group.Properties).toMatchObject({ MinSize: '1', MaxSize: '1' });
    const subnetRefs = (group.Properties.VPCZoneIdentifier as { Ref: string }[]).map((ref) => ref.Ref).sort();
    expect(subnetRefs).toEqual(
      subnetCidrs('Turn')
        .map((subnet) => subnet.id)
        .sort(),
    );
    const [eipId] = onlyResource(media, 'AWS::EC2::EIP', 'TurnAddress');
    media.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'turn.rtc.test.',
      Type: 'A',
      HostedZoneId: 'Z0123456789TESTZONE',
      ResourceRecords: [{ 'Fn::GetAtt': [eipId, 'PublicIp'] }],
    });
  });

  describe('coturn configuration in the user data', () => {
    let script: string;
    beforeAll(() => {
      script = userDataOf(media, 'TurnLaunchTemplate');
    });

    it('uses the shared secret (TURN REST), read at boot from Secrets Manager', () => {
      expect(script).toMatch(/^use-auth-secret$/m);
      expect(script).toMatch(
        /TURN_SECRET=\$\(aws secretsmanager get-secret-value --secret-id '\{\{"Fn::ImportValue":"RtcData:ExportsOutputRefTurnSecret/,
      );
      expect(script).toContain('echo "static-auth-secret=$TURN_SECRET"');
      expect(script).not.toMatch(/static-auth-secret=[A-Za-z0-9]/);
    });

    it('listens on UDP/TCP 3478 and TLS 443 with a Let’s Encrypt certificate for its name', () => {
      expect(script).toMatch(/^listening-port=3478$/m);
      expect(script).toMatch(/^tls-listening-port=443$/m);
      expect(script).toMatch(/^cert=\/etc\/coturn\/tls\/fullchain\.pem$/m);
      expect(script).toContain("--cert-name turn -d 'turn.rtc.test'");
      expect(script).toContain('AmbientCapabilities=CAP_NET_BIND_SERVICE');
      const [eipId] = onlyResource(media, 'AWS::EC2::EIP', 'TurnAddress');
      expect(script).toContain(
        `echo "external-ip={${JSON.stringify({ 'Fn::GetAtt': [eipId, 'PublicIp'] })}}/$PRIVATE_IP"`,
      );
    });

    it('denies relaying to loopback, private, CGNAT, link-local (metadata) and IPv6 local ranges', () => {
      const required = [
        '0.0.0.0-0.255.255.255',
        '10.0.0.0-10.255.255.255',
        '100.64.0.0-100.127.255.255',
        '127.0.0.0-127.255.255.255',
        '169.254.0.0-169.254.255.255',
        '172.16.0.0-172.31.255.255',
        '192.168.0.0-192.168.255.255',
        '::1-::1',
        'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      ];
      for (const range of required)
        expect(script).toMatch(new RegExp(`^denied-peer-ip=${range.replace(/\./g, '\\.')}$`, 'm'));
      for (const { range } of TURN_DENIED_PEER_RANGES) expect(script).toContain(`denied-peer-ip=${range}\n`);
      expect(script).toMatch(/^no-multicast-peers$/m);
    });

    it('allows exactly the media subnets as an exception, not the TURN subnets or the VPC resolver', () => {
      const allowed = [...script.matchAll(/^allowed-peer-ip=(.+)$/gm)].map((match) => match[1]);
      const expected = subnetCidrs('Media').map(({ cidr }) => {
        const [base] = cidr.split('/');
        const prefix = base!.split('.').slice(0, 3).join('.');
        expect(cidr.endsWith('/24')).toBe(true);
        return `${prefix}.0-${prefix}.255`;
      });
      expect(allowed.sort()).toEqual(expected.sort());
      expect(script).not.toContain('allow-loopback-peers');
      // the VPC's DNS resolver (base + 2) must stay unreachable through the relay
      const [, vpc] = onlyResource(media, 'AWS::EC2::VPC', 'NetworkVpc');
      const resolver = ipv4ToNumber((vpc.Properties.CidrBlock as string).split('/')[0]!) + 2;
      for (const range of allowed) {
        const [first, last] = range!.split('-').map(ipv4ToNumber);
        expect(resolver >= first! && resolver <= last!).toBe(false);
      }
    });
  });

  it('reads exactly the TURN secret and associates only its own Elastic IP', () => {
    const statements = statementsForRole(media, 'TurnInstanceRole');
    const secrets = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secrets.flatMap(resourcesOf)).toHaveLength(1);
    expect(importsAttribute(secrets[0]!.Resource, 'TurnSecret', 'Ref')).toBe(true);
    const [eipId] = onlyResource(media, 'AWS::EC2::EIP', 'TurnAddress');
    const associate = statements.find((s) => actionsOf(s).includes('ec2:AssociateAddress'));
    expect(JSON.stringify(associate?.Resource)).toContain(`{"Fn::GetAtt":["${eipId}","AllocationId"]}`);
    const route53 = statements.find((s) => actionsOf(s).includes('route53:ChangeResourceRecordSets'));
    expect(route53?.Condition?.['ForAllValues:StringLike']).toEqual({
      'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_acme-challenge.turn.rtc.test'],
    });
  });

  it('outputs the TURN host', () => {
    const outputs = media.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.TurnHost?.Value).toBe('turn.rtc.test');
  });
});
