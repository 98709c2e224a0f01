// Boot script of the TURN server (coturn on Ubuntu 24.04): take the fleet's
// Elastic IP, get a certificate for the TURN name (DNS-01), read the shared
// secret from Secrets Manager at boot (never in user data), write
// turnserver.conf with the peer deny rules, start coturn.
import { coturnPeerPolicyLines } from '../../../shared/turn-policy.js';
import { bootPrelude, certbotCommand, installAwsCli, shellQuote, writeFile } from './shell.js';

export interface TurnServerBootOptions {
  allocationId: string;
  publicIp: string;
  /** turn.example.com */
  hostName: string;
  realm: string;
  turnSecretArn: string;
  /** coturn `ip-ip` ranges relaying may reach despite the deny list (the media subnets) */
  allowedPeerRanges: string[];
  acme: { email?: string; directoryUrl?: string };
}

export const TURN_LISTENING_PORT = 3478;
export const TURN_TLS_PORT = 443;
export const TURN_RELAY_PORTS = { min: 49152, max: 65535 } as const;

/** turnserver.conf without the per-instance lines (addresses, secret) */
export function turnServerConfig(o: Pick<TurnServerBootOptions, 'realm' | 'allowedPeerRanges'>): string {
  return [
    `listening-port=${TURN_LISTENING_PORT}`,
    `tls-listening-port=${TURN_TLS_PORT}`,
    `min-port=${TURN_RELAY_PORTS.min}`,
    `max-port=${TURN_RELAY_PORTS.max}`,
    `realm=${o.realm}`,
    'fingerprint',
    // TURN REST credentials: username <expiry>:<user>, HMAC-SHA1 of static-auth-secret
    'use-auth-secret',
    'cert=/etc/coturn/tls/fullchain.pem',
    'pkey=/etc/coturn/tls/privkey.pem',
    'no-tlsv1',
    'no-tlsv1_1',
    'no-cli',
    'no-software-attribute',
    'stale-nonce=600',
    'syslog',
    // never relay into loopback, private, CGNAT, link-local (metadata) or IPv6 local ranges
    ...coturnPeerPolicyLines(o.allowedPeerRanges),
  ].join('\n');
}

export function turnServerBootScript(o: TurnServerBootOptions): string[] {
  const installCertHook = `#!/bin/bash
# certbot deploy hook: coturn runs as turnserver and cannot read /etc/letsencrypt
set -euo pipefail
install -d -m 0750 -o root -g turnserver /etc/coturn/tls
install -m 0640 -o root -g turnserver /etc/letsencrypt/live/turn/fullchain.pem /etc/coturn/tls/fullchain.pem
install -m 0640 -o root -g turnserver /etc/letsencrypt/live/turn/privkey.pem /etc/coturn/tls/privkey.pem
if systemctl is-active --quiet coturn; then systemctl restart coturn; fi
`;
  const unitOverride = `[Service]
# TLS on 443 as the unprivileged turnserver user
AmbientCapabilities=CAP_NET_BIND_SERVICE
Restart=always
RestartSec=2
LimitNOFILE=65536
`;

  return [
    ...bootPrelude(),
    'PRIVATE_IP=$(imds local-ipv4)',
    ...installAwsCli(),
    // the fixed address the TURN name points at
    `aws ec2 associate-address --allocation-id ${o.allocationId} --instance-id "$INSTANCE_ID" --allow-reassociation`,
    'apt-get update -q',
    'apt-get install -y -q coturn certbot python3-certbot-dns-route53',
    'systemctl stop coturn || true',
    ...writeFile('/usr/local/sbin/turn-install-cert', installCertHook, '0755'),
    certbotCommand({
      certName: 'turn',
      domainExpression: shellQuote(o.hostName),
      email: o.acme.email,
      directoryUrl: o.acme.directoryUrl,
      deployHook: '/usr/local/sbin/turn-install-cert',
    }),
    // the secret is read here, at boot; it is never part of the user data
    `TURN_SECRET=$(aws secretsmanager get-secret-value --secret-id ${shellQuote(o.turnSecretArn)} --query SecretString --output text)`,
    'install -m 0640 -o root -g turnserver /dev/null /etc/turnserver.conf',
    '{',
    '  echo "listening-ip=$PRIVATE_IP"',
    '  echo "relay-ip=$PRIVATE_IP"',
    `  echo "external-ip=${o.publicIp}/$PRIVATE_IP"`,
    '  echo "static-auth-secret=$TURN_SECRET"',
    "  cat <<'RTC_EOF'",
    turnServerConfig(o),
    'RTC_EOF',
    '} > /etc/turnserver.conf',
    'unset TURN_SECRET',
    ...writeFile('/etc/systemd/system/coturn.service.d/rtc.conf', unitOverride),
    "sed -i 's/^#*TURNSERVER_ENABLED=.*/TURNSERVER_ENABLED=1/' /etc/default/coturn || true",
    'systemctl daemon-reload',
    'systemctl enable coturn',
    'systemctl restart coturn',
  ];
}
