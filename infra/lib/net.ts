// Small address helpers for synth-time values (literal strings, not tokens).

function ipv4ToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return parts.reduce((value, part) => value * 256 + part, 0);
}

function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** 10.42.2.0/24 -> 10.42.2.0-10.42.2.255 (the form coturn's allowed/denied-peer-ip take) */
export function ipv4CidrToRange(cidr: string): string {
  const [address, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!address || !Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const size = 2 ** (32 - bits);
  const first = Math.floor(ipv4ToNumber(address) / size) * size;
  return `${numberToIpv4(first)}-${numberToIpv4(first + size - 1)}`;
}
