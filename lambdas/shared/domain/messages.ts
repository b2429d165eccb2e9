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
  /** The sha256 of what an approval approves (the plan binary Apply applies); the CLI can pin it. */
  readonly planSha256: string;
  /** deploy (or absent), or an operation on the deployed version such as detach-vpc. */
  readonly operation?: string;
  /** Preflight's warnings: what the approver should weigh. */
  readonly warnings?: readonly string[];
  /** The e-mail subscriptions not confirmed (domain/subscriptions.ts), or that they could not be checked. */
  readonly subscriptionNotes?: readonly string[];
}

const ACTION_MARK: Readonly<Record<string, string>> = { create: '+', update: '~', replace: '-/+', delete: '-' };

/** Preflight's warnings, as every notice to operators shows them (nothing when there are none). */
export function warningLines(warnings: readonly string[] | undefined): string[] {
  if (!warnings?.length) return [];
  return ['Warnings (the run went on; check them):', ...warnings.map((w) => `  ! ${w}`), ''];
}

export function approvalRequestMessage(f: ApprovalRequestFacts): { subject: string; text: string } {
  const versions = f.fromVersion ? `${f.fromVersion} → ${f.toVersion}` : `${f.toVersion} (first install)`;
  // detach-vpc and the like change no version: name the operation and the version it works on.
  const other = f.operation !== undefined && f.operation !== 'deploy';
  const what = other ? `${f.operation} of the deployed ${f.toVersion}` : `${f.change} ${versions}`;
  const lines = [
    `Gateway ${f.gateway}: ${what} waits for your approval.`,
    '',
    f.line,
    `Risk: ${f.riskLevel}${f.riskReasons.length ? '' : ' (only creates and in-place updates)'}`,
    ...f.riskReasons.map((r) => `  - ${r}`),
    `Asked because ${f.because}.`,
    '',
    ...warningLines(f.warnings),
    ...(f.subscriptionNotes ?? []),
    'Changes:',
    ...f.changes.map((c) => `  ${(ACTION_MARK[c.action] ?? c.action).padEnd(3)} ${c.address}`),
    ...(f.changesNotListed > 0 ? [`  … and ${f.changesNotListed} more (see the full plan)`] : []),
    '',
    ...(other && f.planTextUrl === f.planJsonUrl
      ? [`Details: ${f.planTextUrl}`]
      : [`Full plan (redacted): ${f.planTextUrl}`, `Plan JSON (redacted): ${f.planJsonUrl}`]),
    '',
    `What an approval approves: sha256 ${f.planSha256}. Anything else is refused before it is applied.`,
    '',
    `Approve or reject within ${f.timeoutHours} h (then the run fails), as a principal named in approval.approvers:`,
    `  npx gateway-deployer approve --stack ${f.stackName} --region ${f.region} --execution ${f.executionName} --plan-sha256 ${f.planSha256} --reason "<why>"`,
    `  npx gateway-deployer reject  --stack ${f.stackName} --region ${f.region} --execution ${f.executionName} --plan-sha256 ${f.planSha256} --reason "<why>"`,
  ];
  const subject = other
    ? `Compute Gateway ${f.gateway}: approve ${f.operation}? ${f.line}`
    : `Compute Gateway ${f.gateway}: approve ${f.change} to ${f.toVersion}? ${f.line}`;
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
  /** Preflight's warnings, for operators (the support mail is about the completion). */
  readonly warnings?: readonly string[];
  /** For operators only: the HOWTO's bucket policies for the external data buckets (dal-access.ts dalAccessLines). */
  readonly dalAccess?: readonly string[];
  /** For operators: the e-mail subscriptions not confirmed (domain/subscriptions.ts), or that they could not be checked. */
  readonly subscriptionNotes?: readonly string[];
}

/** The HOWTO's wrap-up: "contact your Apheris representative … to confirm the completion and request to run the smoke tests". */
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
  const operators = [...summary, '', ...warningLines(f.warnings), ...(f.subscriptionNotes ?? []), `Execution: ${f.executionArn}`, `Full report: ${f.reportUrl}`, '', 'Support has been asked to run the smoke tests.', ...(f.dalAccess?.length ? ['', ...f.dalAccess] : [])].join('\n');
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
  /** The whole plan was applied and toVersion is now recorded as deployed, not verified. */
  readonly recordedUnverified?: boolean;
  /** More for operators (a run that ended outside its own catch: locks, redrive). */
  readonly notes?: readonly string[];
  /** Preflight's warnings: one may be the cause (too few free subnet addresses, a GPU pool without GPU support). */
  readonly warnings?: readonly string[];
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
    ...(f.recordedUnverified && f.toVersion
      ? [
          `${f.toVersion} is now recorded as the deployed version, not verified: the next runs compare against it.`,
          `Once the cause is fixed, verify it again: npx gateway-deployer start --version ${f.toVersion} --allow-redeploy --reason "verify again".`,
          ...(f.fromVersion ? [`Going back to ${f.fromVersion} is a downgrade: it needs --allow-downgrade and its own approval.`] : []),
        ]
      : []),
    ...(f.notes ?? []),
    ...(f.warnings?.length ? ['', ...warningLines(f.warnings)] : []),
    `Log: ${f.logLocation}`,
    `Execution: ${f.executionArn}`,
  ].join('\n');
  const subject = `Compute Gateway ${f.gateway}: deployment failed at ${f.step} (${f.error})`;
  return { subject: snsSubject(subject), text };
}

export interface DriftFacts {
  readonly gateway: string;
  readonly version: string;
  readonly line: string;
  readonly changes: ReadonlyArray<{ readonly address: string; readonly action: string }>;
  readonly changesNotListed: number;
  readonly planTextUrl: string;
  readonly executionArn: string;
}

/** Drift detection: the deployed version planned again found changes. Nothing was applied. */
export function driftMessage(f: DriftFacts): { subject: string; text: string } {
  const text = [
    `Compute Gateway "${f.gateway}" has drifted from its configuration and module ${f.version}.`,
    '',
    f.line,
    ...f.changes.map((c) => `  ${(ACTION_MARK[c.action] ?? c.action).padEnd(3)} ${c.address}`),
    ...(f.changesNotListed > 0 ? [`  … and ${f.changesNotListed} more (see the full plan)`] : []),
    '',
    'Nothing was applied. Someone or something changed the infrastructure (or the configuration changed since the',
    'last deployment). Review the plan; to put the gateway back in line, redeploy the same version:',
    `  npx gateway-deployer start --version ${f.version} --allow-redeploy --reason "revert drift"`,
    'If the change was intended, bring it into the gateway configuration instead.',
    '',
    `Full plan (redacted): ${f.planTextUrl}`,
    `Execution: ${f.executionArn}`,
  ].join('\n');
  return { subject: snsSubject(`Compute Gateway ${f.gateway}: drift detected. ${f.line}`), text };
}

export interface DetachedFacts {
  readonly gateway: string;
  readonly addresses: readonly string[];
  readonly backupUrl: string | null;
  readonly approvedBy: string;
  readonly executionArn: string;
}

/** The FAQ "Can I manage the AWS VPC setup?": what left the state, where the backup is, what to do next. */
export function detachedMessage(f: DetachedFacts): { subject: string; text: string } {
  if (f.addresses.length === 0) {
    const text = [
      `Compute Gateway "${f.gateway}": the Terraform state holds no module.vpc resources; nothing was detached.`,
      `Execution: ${f.executionArn}`,
    ].join('\n');
    return { subject: snsSubject(`Compute Gateway ${f.gateway}: nothing to detach from the VPC module`), text };
  }
  const text = [
    `Compute Gateway "${f.gateway}": ${f.addresses.length} module.vpc resource(s) removed from the Terraform state (approved by ${f.approvedBy}).`,
    'Nothing was destroyed in AWS: the VPC is now yours to manage.',
    '',
    ...f.addresses.map((a) => `  ${a}`),
    '',
    `State backup from before the removal: ${f.backupUrl ?? '(not reported; see the build log)'}`,
    '',
    'Next: set module.create_vpc = false with module.vpc_id and module.node_subnet_ids (the existing VPC and subnets)',
    'in the gateway configuration, deploy the stack, then upgrade as usual. Until then, a run with create_vpc = true',
    'would plan to create a new VPC.',
    `Execution: ${f.executionArn}`,
  ].join('\n');
  return { subject: snsSubject(`Compute Gateway ${f.gateway}: VPC detached from the Terraform state (${f.addresses.length} resources)`), text };
}
