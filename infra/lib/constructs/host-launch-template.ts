// The launch template both EC2 fleets (media hosts, coturn) share, so their
// baseline is defined once: Ubuntu 24.04 for the instance type's
// architecture, IMDSv2 only with a hop limit of 1 (containers cannot reach
// the metadata service), and an encrypted gp3 root volume.
import {
  BlockDeviceVolume,
  EbsDeviceVolumeType,
  InstanceArchitecture,
  type InstanceType,
  type ISecurityGroup,
  LaunchTemplate,
  LaunchTemplateHttpTokens,
  MachineImage,
  OperatingSystemType,
  type UserData,
} from 'aws-cdk-lib/aws-ec2';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

export interface HostLaunchTemplateProps {
  instanceType: InstanceType;
  userData: UserData;
  role: IRole;
  securityGroup: ISecurityGroup;
  rootVolumeGiB: number;
  /** expose the instance's tags through IMDS */
  instanceMetadataTags?: boolean;
}

export function isArm(instanceType: InstanceType): boolean {
  return instanceType.architecture === InstanceArchitecture.ARM_64;
}

/** Canonical's public SSM parameter: resolved by CloudFormation, no lookup at synth. */
export function ubuntu2404(arm: boolean) {
  return MachineImage.fromSsmParameter(
    `/aws/service/canonical/ubuntu/server/24.04/stable/current/${arm ? 'arm64' : 'amd64'}/hvm/ebs-gp3/ami-id`,
    { os: OperatingSystemType.LINUX },
  );
}

export function hostLaunchTemplate(scope: Construct, id: string, props: HostLaunchTemplateProps): LaunchTemplate {
  return new LaunchTemplate(scope, id, {
    instanceType: props.instanceType,
    machineImage: ubuntu2404(isArm(props.instanceType)),
    userData: props.userData,
    role: props.role,
    securityGroup: props.securityGroup,
    requireImdsv2: true,
    httpTokens: LaunchTemplateHttpTokens.REQUIRED,
    httpPutResponseHopLimit: 1,
    ...(props.instanceMetadataTags ? { instanceMetadataTags: true } : {}),
    blockDevices: [
      {
        deviceName: '/dev/sda1',
        volume: BlockDeviceVolume.ebs(props.rootVolumeGiB, { volumeType: EbsDeviceVolumeType.GP3, encrypted: true }),
      },
    ],
  });
}
