// Peer addresses a TURN server must never relay to: this-network, private,
// carrier-grade NAT, loopback and link-local ranges (169.254.169.254 is the
// cloud metadata service), plus their IPv6 equivalents. The local coturn
// (scripts/coturn.ts) and the deployed one (infra/) use the same list.

export interface DeniedPeerRange {
  /** CIDR notation, for humans and security-group style rules */
  cidr: string;
  /** inclusive first-last form that coturn's `denied-peer-ip` accepts */
  range: string;
}

export const TURN_DENIED_PEER_RANGES: readonly DeniedPeerRange[] = [
  { cidr: '0.0.0.0/8', range: '0.0.0.0-0.255.255.255' },
  { cidr: '10.0.0.0/8', range: '10.0.0.0-10.255.255.255' },
  { cidr: '100.64.0.0/10', range: '100.64.0.0-100.127.255.255' },
  { cidr: '127.0.0.0/8', range: '127.0.0.0-127.255.255.255' },
  { cidr: '169.254.0.0/16', range: '169.254.0.0-169.254.255.255' },
  { cidr: '172.16.0.0/12', range: '172.16.0.0-172.31.255.255' },
  { cidr: '192.168.0.0/16', range: '192.168.0.0-192.168.255.255' },
  { cidr: '::/128', range: '::-::' },
  { cidr: '::1/128', range: '::1-::1' },
  // IPv4-mapped IPv6 would otherwise reach the IPv4 ranges above
  { cidr: '::ffff:0:0/96', range: '::ffff:0.0.0.0-::ffff:255.255.255.255' },
  { cidr: 'fc00::/7', range: 'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' },
  { cidr: 'fe80::/10', range: 'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff' },
];

/**
 * turnserver.conf lines for the peer policy: deny every range above, then
 * allow the given addresses (coturn lets `allowed-peer-ip` win over a deny).
 * Loopback peers also need `allow-loopback-peers`.
 */
export function coturnPeerPolicyLines(allowedPeerIps: readonly string[] = []): string[] {
  const lines = ['no-multicast-peers', ...TURN_DENIED_PEER_RANGES.map((r) => `denied-peer-ip=${r.range}`)];
  for (const ip of allowedPeerIps) lines.push(`allowed-peer-ip=${ip}`);
  if (allowedPeerIps.some((ip) => ip.startsWith('127.') || ip === '::1')) lines.push('allow-loopback-peers');
  return lines;
}
