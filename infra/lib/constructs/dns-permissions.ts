// Route 53 permissions for hosts that manage their own DNS records and solve
// Let's Encrypt DNS-01 challenges, limited to named records of one zone.
import { Stack } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IHostedZone } from 'aws-cdk-lib/aws-route53';

export interface DnsRecordGrant {
  zone: IHostedZone;
  /** lower-case names without the trailing dot; `*` wildcards allowed (IAM StringLike) */
  recordNames: string[];
  recordTypes: string[];
}

export function grantDnsRecordChanges(grantee: IGrantable, grant: DnsRecordGrant): void {
  const principal = grantee.grantPrincipal;
  principal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['route53:ChangeResourceRecordSets'],
      resources: [grant.zone.hostedZoneArn],
      conditions: {
        'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': grant.recordNames },
        'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': grant.recordTypes },
      },
    }),
  );
  principal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['route53:GetChange'],
      resources: [
        Stack.of(grant.zone).formatArn({
          service: 'route53',
          region: '',
          account: '',
          resource: 'change',
          resourceName: '*',
        }),
      ],
    }),
  );
  // certbot finds the zone id by name; ListHostedZones has no resource-level
  // permission and returns zone metadata only (no records)
  principal.addToPrincipalPolicy(new PolicyStatement({ actions: ['route53:ListHostedZones'], resources: ['*'] }));
}
