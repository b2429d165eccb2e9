/**
 * Messages people read in their mail. Plain text, no secret: they are built only from names, versions, plan
 * addresses and S3 locations.
 */

export interface ApprovalRequestFacts {
  readonly gateway: string;
  readonly executionName: string;
  readonly stackName: string;
  readonly region: string;
  readonly fromVersion: string | null;
  readonly toVersion: string;
  readonly change: string;
  readonly line: string;
  readonly changes: ReadonlyArray<{ readonly address: string; readonly action: string }>;
  readonly changesNotListed: number;
  readonly riskLevel: string;
  readonly riskReasons: readonly string[];
  readonly because: string;
  readonly planTextUrl: string;
  readonly planJsonUrl: string;
  readonly timeoutHours: number;
}

const ACTION_MARK: Readonly<Record<string, string>> = { create: '+', update: '~', replace: '-/+', delete: '-' };

export function approvalRequestMessage(f: ApprovalRequestFacts): { subject: string; text: string } {
  const versions = f.fromVersion ? `${f.fromVersion} → ${f.toVersion}` : `${f.toVersion} (first install)`;
  const lines = [
    `Gateway ${f.gateway}: ${f.change} ${versions} waits for your approval.`,
    '',
    f.line,
    `Risk: ${f.riskLevel}${f.riskReasons.length ? '' : ' (only creates and in-place updates)'}`,
    ...f.riskReasons.map((r) => `  - ${r}`),
    `Asked because ${f.because}.`,
    '',
    'Changes:',
    ...f.changes.map((c) => `  ${(ACTION_MARK[c.action] ?? c.action).padEnd(3)} ${c.address}`),
    ...(f.changesNotListed > 0 ? [`  … and ${f.changesNotListed} more (see the full plan)`] : []),
    '',
    `Full plan (redacted): ${f.planTextUrl}`,
    `Plan JSON (redacted): ${f.planJsonUrl}`,
    '',
    `Approve or reject within ${f.timeoutHours} h (then the run fails), with AWS credentials allowed to decide:`,
    `  npm run deployer -- approve --stack ${f.stackName} --region ${f.region} --execution ${f.executionName} --reason "<why>"`,
    `  npm run deployer -- reject  --stack ${f.stackName} --region ${f.region} --execution ${f.executionName} --reason "<why>"`,
  ];
  const subject = `Compute Gateway ${f.gateway}: approve ${f.change} to ${f.toVersion}? ${f.line}`;
  // SNS subjects must be shorter than 100 characters.
  return { subject: subject.length > 99 ? `${subject.slice(0, 98)}…` : subject, text: lines.join('\n') };
}
