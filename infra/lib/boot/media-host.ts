// Boot script of a media host (Ubuntu 24.04). In order:
//  1. identity from IMDSv2: instance id, public IPv4 (RTC_ANNOUNCED_ADDRESS), zone
//  2. DNS: A record <instance-id>.<media domain> -> public IP, in Route 53
//  3. TLS: Let's Encrypt certificate for that name by DNS-01; nginx terminates
//     TLS on 443 and proxies HTTP/WebSocket to the host on 127.0.0.1
//  4. Node.js 20 (nodejs.org tarball, checksum verified), the bundle from S3,
//     `npm install` of mediasoup (downloads its prebuilt worker)
//  5. systemd: media-host.service (Restart=always, SIGTERM drains) and the
//     drain watcher that completes the Auto Scaling termination hook
import { bootPrelude, certbotCommand, installAwsCli, shellQuote, writeFile } from './shell.js';

export interface MediaHostBootOptions {
  bundle: { bucketName: string; objectKey: string; main: string };
  publicKeyParameterName: string;
  hostedZoneId: string;
  /** e.g. media.example.com; hosts are <instance-id>.<mediaDomain> */
  mediaDomain: string;
  acme: { email?: string; directoryUrl?: string };
  nodeVersion: string;
  nodeArch: 'arm64' | 'x64';
  /** plain HTTP port of the host process behind nginx */
  hostPort: number;
  env: {
    tableMeetings: string;
    tableHosts: string;
    workers: number;
    rtcPortBase: number;
    capacityMeetings: number;
    drainDeadlineMs: number;
    controlIssuer: string;
    allowedOrigins: string[];
  };
  /** systemd TimeoutStopSec: longer than the drain deadline */
  stopTimeoutSeconds: number;
}

const IMDS_FUNCTION = [
  'imds() {',
  '  local token',
  "  token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')",
  '  curl -fsS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"',
  '}',
].join('\n');

export function mediaHostBootScript(o: MediaHostBootOptions): string[] {
  const nodeDist = `node-v${o.nodeVersion}-linux-${o.nodeArch}`;
  const nodeBase = `https://nodejs.org/dist/v${o.nodeVersion}`;
  const envLine = (name: string, value: string | number) => `  echo ${shellQuote(`${name}=${value}`)}`;

  const dnsScript = `#!/bin/bash
# media-host-dns UPSERT|DELETE: this host's A record -> its public IPv4; prints the change id
set -euo pipefail
export PATH="$PATH:/snap/bin"
. /etc/media-host/identity
aws route53 change-resource-record-sets --hosted-zone-id ${o.hostedZoneId} --query ChangeInfo.Id --output text \\
  --change-batch "{\\"Changes\\":[{\\"Action\\":\\"$1\\",\\"ResourceRecordSet\\":{\\"Name\\":\\"$HOST_NAME\\",\\"Type\\":\\"A\\",\\"TTL\\":60,\\"ResourceRecords\\":[{\\"Value\\":\\"$PUBLIC_IP\\"}]}}]}"
`;

  const drainWatchScript = `#!/bin/bash
# Scale-in drain. The Auto Scaling termination hook holds this instance in
# Terminating:Wait; IMDS then reports target-lifecycle-state "Terminated".
# Stopping the unit sends SIGTERM: the host marks itself DRAINING (no new
# placements) and exits when its rooms are empty or DRAIN_DEADLINE_MS passed.
# Then the DNS name goes and the termination continues.
set -uo pipefail
export PATH="$PATH:/snap/bin"
. /etc/media-host/identity
${IMDS_FUNCTION}
until [ "$(imds autoscaling/target-lifecycle-state 2>/dev/null)" = "Terminated" ]; do sleep 5; done
systemctl stop media-host.service
/usr/local/sbin/media-host-dns DELETE || true
ASG_NAME=$(imds tags/instance/aws:autoscaling:groupName)
HOOK_NAME=$(aws autoscaling describe-lifecycle-hooks --auto-scaling-group-name "$ASG_NAME" --output text \\
  --query "LifecycleHooks[?LifecycleTransition=='autoscaling:EC2_INSTANCE_TERMINATING'].LifecycleHookName | [0]")
aws autoscaling complete-lifecycle-action --auto-scaling-group-name "$ASG_NAME" --lifecycle-hook-name "$HOOK_NAME" \\
  --instance-id "$INSTANCE_ID" --lifecycle-action-result CONTINUE
`;

  const hostUnit = `[Unit]
Description=RTC media host (WebSocket signalling + mediasoup)
Wants=network-online.target
After=network-online.target nginx.service

[Service]
Type=simple
User=media-host
Group=media-host
EnvironmentFile=/etc/media-host/env
WorkingDirectory=/opt/media-host
ExecStart=/usr/local/bin/node /opt/media-host/${o.bundle.main}
Restart=always
RestartSec=2
# SIGTERM reaches the Node process only; it drains, then closes its mediasoup workers
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=${o.stopTimeoutSeconds}
LimitNOFILE=65536
NoNewPrivileges=true
ProtectSystem=full
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
`;

  const drainUnit = `[Unit]
Description=Drain the media host when the Auto Scaling group terminates this instance
After=media-host.service

[Service]
ExecStart=/usr/local/sbin/media-host-drain-watch
Restart=on-failure
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

  // $uri, never $request: the signalling URL carries the join token in its query string
  const nginxSite = `map $http_upgrade $connection_upgrade {
  default upgrade;
  '' close;
}
log_format media_host_no_query '$remote_addr [$time_local] "$request_method $uri $server_protocol" $status $body_bytes_sent $request_time';
server {
  listen 443 ssl;
  access_log /var/log/nginx/access.log media_host_no_query;
  server_name _;
  ssl_certificate /etc/letsencrypt/live/media-host/fullchain.pem;
  ssl_certificate_key /etc/letsencrypt/live/media-host/privkey.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  client_max_body_size 64k;
  # metrics stay on the instance
  location = /metrics { return 404; }
  location / {
    proxy_pass http://127.0.0.1:${o.hostPort};
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto https;
    proxy_read_timeout 1h;
    proxy_send_timeout 1h;
  }
}
`;

  return [
    ...bootPrelude(),
    'PUBLIC_IP=$(imds public-ipv4)',
    'ZONE=$(imds placement/availability-zone)',
    `HOST_NAME="$INSTANCE_ID.${o.mediaDomain}"`,
    'install -d -m 0755 /etc/media-host',
    `printf 'INSTANCE_ID=%s\\nHOST_NAME=%s\\nPUBLIC_IP=%s\\nAWS_DEFAULT_REGION=%s\\n' "$INSTANCE_ID" "$HOST_NAME" "$PUBLIC_IP" "$REGION" > /etc/media-host/identity`,

    'apt-get update -q',
    'apt-get install -y -q nginx certbot python3-certbot-dns-route53 unzip xz-utils build-essential python3-pip',
    ...installAwsCli(),

    // DNS name first (browsers need it), then the certificate for it
    ...writeFile('/usr/local/sbin/media-host-dns', dnsScript, '0755'),
    'aws route53 wait resource-record-sets-changed --id "$(/usr/local/sbin/media-host-dns UPSERT)"',
    certbotCommand({
      certName: 'media-host',
      domainExpression: '"$HOST_NAME"',
      email: o.acme.email,
      directoryUrl: o.acme.directoryUrl,
      deployHook: 'systemctl reload nginx || true',
    }),
    'rm -f /etc/nginx/sites-enabled/default',
    ...writeFile('/etc/nginx/conf.d/media-host.conf', nginxSite),
    'systemctl enable nginx',
    'systemctl restart nginx',

    // Node.js 20 from the official release, verified against its SHASUMS256.txt
    `curl -fsSLo /tmp/${nodeDist}.tar.xz ${nodeBase}/${nodeDist}.tar.xz`,
    `(cd /tmp && curl -fsSL ${nodeBase}/SHASUMS256.txt | grep " ${nodeDist}.tar.xz" | sha256sum -c -)`,
    `tar -xJf /tmp/${nodeDist}.tar.xz -C /usr/local --strip-components=1 --no-same-owner`,

    // the bundle; npm installs mediasoup, whose postinstall fetches the prebuilt worker
    'id media-host >/dev/null 2>&1 || useradd --system --home-dir /opt/media-host --shell /usr/sbin/nologin media-host',
    `aws s3 cp ${shellQuote(`s3://${o.bundle.bucketName}/${o.bundle.objectKey}`)} /tmp/media-host.zip`,
    'rm -rf /opt/media-host && install -d /opt/media-host',
    'unzip -q /tmp/media-host.zip -d /opt/media-host',
    '(cd /opt/media-host && npm install --omit=dev --no-audit --no-fund)',

    // the control plane's public key (SPKI PEM) verifies media-join and service tokens
    `aws ssm get-parameter --name ${shellQuote(o.publicKeyParameterName)} --query Parameter.Value --output text > /etc/media-host/control-public-key.pem`,
    '{',
    '  echo "HOST_ID=$INSTANCE_ID"',
    envLine('LISTEN_HOST', '127.0.0.1'),
    envLine('PORT', o.hostPort),
    '  echo "PUBLIC_SIGNALING_URL=wss://$HOST_NAME"',
    '  echo "ADMIN_URL=https://$HOST_NAME"',
    envLine('RTC_LISTEN_IP', '0.0.0.0'),
    '  echo "RTC_ANNOUNCED_ADDRESS=$PUBLIC_IP"',
    envLine('RTC_PORT_BASE', o.env.rtcPortBase),
    envLine('NUM_WORKERS', o.env.workers),
    envLine('CONTROL_PUBLIC_KEY_FILE', '/etc/media-host/control-public-key.pem'),
    envLine('CONTROL_ISSUER', o.env.controlIssuer),
    envLine('ALLOWED_ORIGINS', o.env.allowedOrigins.join(',')),
    '  echo "AWS_REGION=$REGION"',
    envLine('TABLE_MEETINGS', o.env.tableMeetings),
    envLine('TABLE_HOSTS', o.env.tableHosts),
    envLine('CAPACITY_MEETINGS', o.env.capacityMeetings),
    '  echo "HOST_REGION=$REGION"',
    '  echo "HOST_ZONE=$ZONE"',
    envLine('DRAIN_DEADLINE_MS', o.env.drainDeadlineMs),
    envLine('LOG_LEVEL', 'info'),
    envLine('NODE_ENV', 'production'),
    '} > /etc/media-host/env',

    ...writeFile('/etc/systemd/system/media-host.service', hostUnit),
    ...writeFile('/usr/local/sbin/media-host-drain-watch', drainWatchScript, '0755'),
    ...writeFile('/etc/systemd/system/media-host-drain-watch.service', drainUnit),
    'systemctl daemon-reload',
    'systemctl enable --now media-host.service media-host-drain-watch.service',
  ];
}
