// Shell snippets shared by the fleets' user data (Ubuntu 24.04 LTS).
// Values may be CDK tokens: they are resolved into the template's Fn::Join.

/** quotes a value for bash (single quotes; tokens stay intact inside) */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/** strict mode, PATH with the snap-installed AWS CLI, and IMDSv2 helpers */
export function bootPrelude(): string[] {
  return [
    'set -euo pipefail',
    'export DEBIAN_FRONTEND=noninteractive HOME=/root PATH="$PATH:/snap/bin"',
    // IMDSv2 only: a session token from PUT, then GETs carrying it
    'imds() {',
    '  local token',
    "  token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')",
    '  curl -fsS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"',
    '}',
    'INSTANCE_ID=$(imds instance-id)',
    'REGION=$(imds placement/region)',
    'export AWS_DEFAULT_REGION="$REGION"',
  ];
}

export function installAwsCli(): string[] {
  // Ubuntu 24.04 ships the AWS CLI v2 as a snap only
  return ['snap install aws-cli --classic'];
}

export interface CertbotOptions {
  /** fixed name, so the files live in /etc/letsencrypt/live/<certName>/ */
  certName: string;
  /** shell expression for the domain, e.g. "$HOST_NAME" */
  domainExpression: string;
  email?: string;
  directoryUrl?: string;
  /** runs after every issue and renewal (saved in the renewal config) */
  deployHook: string;
}

/**
 * Let's Encrypt certificate through the DNS-01 challenge in Route 53, so no
 * port 80 is opened. certbot's systemd timer renews it.
 */
export function certbotCommand(options: CertbotOptions): string {
  const parts = [
    'certbot certonly --non-interactive --agree-tos --dns-route53',
    `--cert-name ${options.certName}`,
    `-d ${options.domainExpression}`,
    options.email ? `-m ${shellQuote(options.email)}` : '--register-unsafely-without-email',
    options.directoryUrl ? `--server ${shellQuote(options.directoryUrl)}` : '',
    `--deploy-hook ${shellQuote(options.deployHook)}`,
  ];
  return parts.filter(Boolean).join(' ');
}

/** writes `content` to `path` through a quoted heredoc (no shell expansion inside) */
export function writeFile(path: string, content: string, mode = '0644'): string[] {
  const marker = 'RTC_EOF';
  if (content.includes(marker)) throw new Error(`file content for ${path} contains the heredoc marker`);
  return [
    `install -d "$(dirname ${path})"`,
    `cat > ${path} <<'${marker}'`,
    content.trimEnd(),
    marker,
    `chmod ${mode} ${path}`,
  ];
}
