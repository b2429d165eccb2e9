/**
 * Messages people read in their mail. Plain text, no secret: they are built only from names, versions, plan
 * addresses and S3 locations.
 */

/** SNS subjects must be shorter than 100 characters; a longer one is cut with an ellipsis. */
export function snsSubject(subject: string): string {
  return subject.length > 99 ? `${subject.slice(0, 98)}…` : subject;
}

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
  return { subject: snsSubject(subject), text: lines.join('\n') };
}

export interface CompletionFacts {
  readonly gateway: string;
  readonly accountId: string;
  readonly region: string;
  readonly change: string;
  readonly fromVersion: string | null;
  readonly toVersion: string;
  readonly planSummary: string;
  readonly approvedBy: string;
  readonly agentImage: string;
  readonly agentVersion: string;
  readonly expectedAgentVersion: string | null;
  readonly connectivity: string;
  readonly capacity: string | null;
  readonly finishedAt: string;
  readonly executionArn: string;
  readonly reportUrl: string;
}

/** The seed's wrap-up: "contact your Apheris representative … to confirm the completion and request to run the smoke tests". */
export function completionMessages(f: CompletionFacts, reportJson: object): { support: { subject: string; text: string }; operators: { subject: string; text: string } } {
  const did = f.change === 'install' ? 'installed' : f.change === 'redeploy' ? 'redeployed' : f.change === 'downgrade' ? 'downgraded' : 'upgraded';
  const versions = f.fromVersion && f.fromVersion !== f.toVersion ? `from ${f.fromVersion} to ${f.toVersion}` : `at ${f.toVersion}`;
  const versionLine = f.expectedAgentVersion
    ? `Agent version: ${f.agentVersion}, as communicated (${f.expectedAgentVersion}). Image: ${f.agentImage}`
    : `Agent version: ${f.agentVersion} (not compared: no expected version was given). Image: ${f.agentImage}`;
  const summary = [
    `Compute Gateway "${f.gateway}" (AWS account ${f.accountId}, ${f.region}) was ${did} ${versions} on ${f.finishedAt}.`,
    '',
    `Terraform: ${f.planSummary}`,
    `Approved by: ${f.approvedBy}`,
    versionLine,
    `Connectivity tests (helm test apheris-gateway): ${f.connectivity}`,
    ...(f.capacity ? [`Capacity: ${f.capacity}`] : []),
  ];
  const json = `Report (JSON):\n${JSON.stringify(reportJson, null, 2)}`;
  const support = [
    'Hello Apheris support,',
    '',
    ...summary,
    '',
    'Please confirm the completion and run the smoke tests for this gateway.',
    '',
    json,
  ].join('\n');
  const operators = [...summary, '', `Execution: ${f.executionArn}`, `Full report: ${f.reportUrl}`, '', 'Support has been asked to run the smoke tests.'].join('\n');
  // "installed 1.0.0", "upgraded to 1.1.0"
  const target = `${did}${f.change === 'install' || f.change === 'redeploy' ? '' : ' to'} ${f.toVersion}`;
  return {
    support: { subject: snsSubject(`Compute Gateway ${f.gateway} ${target}: please run the smoke tests`), text: support },
    operators: { subject: snsSubject(`Compute Gateway ${f.gateway}: ${target}, verified`), text: operators },
  };
}

export interface FailureFacts {
  readonly gateway: string;
  readonly step: string;
  readonly error: string;
  readonly message: string;
  readonly advice: string;
  readonly logLocation: string;
  readonly executionArn: string;
  readonly fromVersion: string | null;
  readonly toVersion: string | null;
  /** How much of the plan Terraform applied before the failure. */
  readonly applied: 'nothing' | 'partly' | 'all';
}

const APPLIED: Readonly<Record<FailureFacts['applied'], string>> = {
  nothing: 'Nothing was applied.',
  partly: 'Terraform may have applied part of the plan before it failed; the state in the state bucket records what was done.',
  all: 'Terraform applied the plan before the failure; the state is in the state bucket.',
};

export function failureMessage(f: FailureFacts): { subject: string; text: string } {
  const what = f.toVersion ? ` (${f.fromVersion ? `${f.fromVersion} → ` : ''}${f.toVersion})` : '';
  const text = [
    `Deployment of Compute Gateway "${f.gateway}"${what} failed at step ${f.step}.`,
    '',
    `Error: ${f.error}`,
    `What happened: ${f.message}`,
    `What to do: ${f.advice}`,
    '',
    APPLIED[f.applied],
    `Log: ${f.logLocation}`,
    `Execution: ${f.executionArn}`,
  ].join('\n');
  const subject = `Compute Gateway ${f.gateway}: deployment failed at ${f.step} (${f.error})`;
  return { subject: snsSubject(subject), text };
}
