// The VPC: public subnets only (every host needs a public address for
// WebRTC and TURN), no NAT gateways. TURN and media hosts get their own subnet
// groups so coturn's relay exception can name exactly the media subnets.
import { IpAddresses, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface NetworkProps {
  cidr: string;
  maxAzs?: number;
}

export const TURN_SUBNET_GROUP = 'Turn';
export const MEDIA_SUBNET_GROUP = 'Media';

export class Network extends Construct {
  readonly vpc: Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(props.cidr),
      maxAzs: props.maxAzs ?? 2,
      natGateways: 0,
      // TURN first: the VPC's DNS resolver (base + 2) then sits in a TURN
      // subnet, outside the media subnets that coturn may relay to
      subnetConfiguration: [
        { name: TURN_SUBNET_GROUP, subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: true },
        { name: MEDIA_SUBNET_GROUP, subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: true },
      ],
      restrictDefaultSecurityGroup: true,
    });
  }

  get mediaSubnetCidrs(): string[] {
    return this.vpc
      .selectSubnets({ subnetGroupName: MEDIA_SUBNET_GROUP })
      .subnets.map((subnet) => subnet.ipv4CidrBlock);
  }
}
