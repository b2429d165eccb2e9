import { exportedVariables } from '../shared/domain/build-result';
import { adviceFor, describeCause } from '../shared/domain/failure';
import { appliedButNotVerified, deploymentRecord, type DeploymentRecord } from '../shared/domain/history';
import { dalAccessLines, dalAccessOf, dalReportKey } from '../shared/domain/dal-access';
import { completionMessages, detachedMessage, driftMessage, failureMessage } from '../shared/domain/messages';
import { failedStep, type ExecutionFacts, type RunState } from '../shared/domain/run-state';
import { subscriptionNotice, type ListedSubscription, type SubscriptionCheckTarget } from '../shared/domain/subscriptions';
import { formatBytes, type CapacityReport } from '../shared/domain/verification';
import { terraformLockNotes, type TerraformLockInfo } from '../shared/domain/run-end';

/** The HOWTO's "Wrapping up" on success, and a failure report operators can act on. No secret in either. */

export interface NotifyEvent extends ExecutionFacts {
  readonly kind: 'success' | 'failure' | 'drift' | 'detached';
  readonly gateway: string;
  readonly state: RunState;
}

export interface NotifyPorts {
  readJson(key: string): Promise<unknown | null>;
  publish(topic: 'support' | 'operators', subject: string, text: string): Promise<void>;
  recordRun(record: DeploymentRecord): Promise<void>;
  /** A run that applied and then failed: its history item and CURRENT (the applied version, not verified). */
  recordApplied(record: DeploymentRecord, verification: string): Promise<void>;
  now(): Date;
  /** Terraform's state lock, if one is held (a build killed by its timeout, or stopped, leaves it). */
  terraformLock?(): Promise<TerraformLockInfo | null>;
  /** sns:ListSubscriptionsByTopic, for the success notice's subscriptions check (best effort); optional. */
  listSubscriptions?(topicArn: string): Promise<readonly ListedSubscription[]>;
}

export interface NotifySettings {
  readonly artifactsBucket: string;
  readonly accountId: string;
  readonly region: string;
  /** Where DetachVpc keeps the state backup. */
  readonly stateBucket?: string;
  /** State name → CloudWatch log group of its Lambda. */
  readonly stepLogGroups: Readonly<Record<string, string>>;
  /** s3://bucket/key of the Terraform state, and the projects that run Terraform: for a lock's removal advice. */
  readonly stateUrl?: string;
  readonly projects?: readonly string[];
  /** The topics and their configured addresses, checked for the success notice (Notify's NOTIFICATION_EMAILS). */
  readonly subscriptions?: readonly SubscriptionCheckTarget[];
}

export function capacitySummary(capacity: CapacityReport | null | undefined): string | null {
  if (!capacity) return null;
  const rate = capacity.utilisation === null ? 'n/a' : `${Math.round(capacity.utilisation * 100)} %`;
  const head =
    `${capacity.computations} running computation(s) request ${formatBytes(capacity.totalRequestedBytes)} of ` +
    `${formatBytes(capacity.totalAllocatableBytes)} allocatable node memory (${rate})`;
  return capacity.recommendation ? `${head}. ${capacity.recommendation}` : `${head}.`;
}

export async function notify(event: NotifyEvent, ports: NotifyPorts, settings: NotifySettings): Promise<{ notified: string[] }> {
  const s = event.state;
  const p = s.preflight;
  const now = ports.now().toISOString();
  if (event.kind === 'success') {
    const reportKey = s.evaluation?.reportKey || exportedVariables(s.verify).VERIFICATION_REPORT_KEY || '';
    const verification = (reportKey ? await ports.readJson(reportKey) : null) as { capacity?: CapacityReport } | null;
    const record = deploymentRecord(s, event, event.gateway, 'succeeded', now);
    const dalAccess = await dalAccessNotice(event, ports, settings);
    // Whether the wrap-up mail just sent can reach support (and this one the operators): best effort, never stops it.
    const subscriptionNotes =
      ports.listSubscriptions && settings.subscriptions?.length ? await subscriptionNotice(settings.subscriptions, (arn) => ports.listSubscriptions!(arn), 'completion') : [];
    const messages = completionMessages(
      {
        gateway: event.gateway,
        accountId: settings.accountId,
        region: settings.region,
        change: p?.change ?? 'deploy',
        fromVersion: p?.previousVersion ?? null,
        toVersion: p?.version ?? '',
        planSummary: s.analysis?.line ?? '',
        approvedBy: record.approvedBy,
        agentImage: s.evaluation?.agentImage ?? '',
        agentVersion: s.evaluation?.agentVersion ?? '',
        expectedAgentVersion: s.evaluation?.expectedAgentVersion ?? null,
        connectivity: s.evaluation?.connectivityDetail ? `passed (${s.evaluation.connectivityDetail})` : 'passed',
        capacity: capacitySummary(verification?.capacity),
        finishedAt: now,
        executionArn: event.executionArn,
        reportUrl: reportKey ? `s3://${settings.artifactsBucket}/${reportKey}` : '(no report)',
        ...(p?.warnings?.length ? { warnings: p.warnings } : {}),
        ...(dalAccess.length ? { dalAccess } : {}),
        ...(subscriptionNotes.length ? { subscriptionNotes } : {}),
      },
      { ...record, capacity: verification?.capacity ?? null },
    );
    await ports.publish('support', messages.support.subject, messages.support.text);
    await ports.publish('operators', messages.operators.subject, messages.operators.text);
    return { notified: ['support', 'operators'] };
  }

  if (event.kind === 'drift') {
    // An empty plan is the good news of a drift check: nobody needs a mail for it.
    if (!s.analysis?.hasChanges) return { notified: [] };
    const message = driftMessage({
      gateway: event.gateway,
      version: p?.version ?? '',
      line: s.analysis.line,
      changes: s.analysis.changes ?? [],
      changesNotListed: s.analysis.changesNotListed ?? 0,
      planTextUrl: `s3://${settings.artifactsBucket}/${s.analysis.planTextKey}`,
      executionArn: event.executionArn,
    });
    await ports.publish('operators', message.subject, message.text);
    return { notified: ['operators'] };
  }
  if (event.kind === 'detached') {
    const detached = exportedVariables(s.detach);
    const addresses = s.detach ? (s.analysis?.changes ?? []).map((c) => c.address) : [];
    const record = { ...deploymentRecord(s, event, event.gateway, 'succeeded', now), change: 'detach-vpc', planSummary: s.analysis?.line ?? '' };
    if (s.detach) await ports.recordRun(record);
    const backupKey = detached.STATE_BACKUP_KEY;
    const message = detachedMessage({
      gateway: event.gateway,
      addresses,
      backupUrl: backupKey ? `s3://${settings.stateBucket ?? '(state bucket)'}/${backupKey}` : null,
      approvedBy: s.approval?.decidedBy ?? '',
      executionArn: event.executionArn,
    });
    await ports.publish('operators', message.subject, message.text);
    return { notified: ['operators'] };
  }

  return reportFailure(event, ports, settings);
}

/**
 * The HOWTO's bucket policies for the external data buckets, as the run's build stored them (dal-access.ts), for the
 * operators' notice only: attaching them is the customer's own data access, which Apheris support neither does nor
 * needs for the smoke tests, so the support mail carries neither the bucket names nor the DAL role. Best effort: a
 * report that cannot be read costs a line, never the success notice.
 */
async function dalAccessNotice(event: NotifyEvent, ports: NotifyPorts, settings: NotifySettings): Promise<string[]> {
  const source = dalReportKey(event.state, event.gateway);
  if (!source) return [];
  const sourceUrl = `s3://${settings.artifactsBucket}/${source.key}`;
  try {
    return dalAccessLines(dalAccessOf(await ports.readJson(source.key)), { sourceUrl, fromPlan: source.fromPlan });
  } catch (error) {
    return [`(${sourceUrl} could not be read for the bucket policies of the external data buckets, if any: ${(error as Error).name}. npx gateway-deployer dal-policy prints them.)`];
  }
}

/** For the failure notice of a run that ended outside its own catch (run-end.ts): the step it was in, and notes. */
export interface FailureContext {
  /** The state the run was in; without it, the first step whose result is missing. */
  readonly step?: string;
  /** Lines for operators before the log location: the deployer's lock, redrive advice. */
  readonly notes?: readonly string[];
  /** The whole run was stopped (timed out, aborted): a Terraform build it was in did not end by itself either. */
  readonly runStopped?: boolean;
}

/** The failure path: record the failed run (applied but not verified, when Apply finished) and tell operators. */
export async function reportFailure(event: NotifyEvent, ports: NotifyPorts, settings: NotifySettings, context: FailureContext = {}): Promise<{ notified: string[] }> {
  const s = event.state;
  const p = s.preflight;
  const now = ports.now().toISOString();
  const step = context.step ?? failedStep(s);
  const cause = describeCause(s.error?.Cause);
  const buildKilled = context.runStopped === true || cause.buildStatus === 'TIMED_OUT' || cause.buildStatus === 'STOPPED';
  const lockNotes = buildKilled ? await terraformLockLeft(step, s, ports, settings) : [];
  const buildStep = step === 'Plan' || step === 'Apply' ? step.toLowerCase() : null;
  // Best effort: a report that cannot be read must not stop the failure notice.
  const stepReport = (buildStep && p ? await ports.readJson(`reports/${event.gateway}/${event.executionName}/${buildStep}-failure.json`).catch(() => null) : null) as {
    summary?: string;
    advice?: string;
  } | null;
  const logLocation =
    cause.logLink ??
    (cause.logGroup ? `CloudWatch log group ${cause.logGroup}${cause.logStream ? `, stream ${cause.logStream}` : ''}` : undefined) ??
    (settings.stepLogGroups[step] ? `CloudWatch log group ${settings.stepLogGroups[step]}` : 'the execution history of the run');
  const record = deploymentRecord(s, event, event.gateway, 'failed', now);
  // The history must not hide the failure notice: a failed write is reported in the message instead.
  // A run refused at AcquireLock never started: the running deployment's history is the one that counts.
  let recorded = true;
  const unverified = appliedButNotVerified(s, step);
  if (step !== 'AcquireLock') {
    await (unverified ? ports.recordApplied(record, unverified) : ports.recordRun(record)).catch(() => {
      recorded = false;
    });
  }
  const message = failureMessage({
    gateway: event.gateway,
    step,
    error: s.error?.Error ?? 'unknown',
    message: stepReport?.summary ? `${stepReport.summary} (${cause.message})` : cause.message,
    advice: adviceFor(s.error?.Error, stepReport?.advice),
    logLocation,
    executionArn: event.executionArn,
    fromVersion: p?.previousVersion ?? null,
    toVersion: p?.version ?? null,
    applied: step === 'Apply' ? 'partly' : s.apply !== undefined ? 'all' : 'nothing',
    ...(unverified && recorded ? { recordedUnverified: true } : {}),
    ...(context.notes?.length || lockNotes.length ? { notes: [...(context.notes ?? []), ...lockNotes] } : {}),
    ...(p?.warnings?.length ? { warnings: p.warnings } : {}),
  });
  await ports.publish('operators', message.subject, recorded ? message.text : `${message.text}\n(The deployment history could not be written.)`);
  return { notified: ['operators'] };
}

/** The states whose build runs Terraform against the state (and so takes its lock). */
const TERRAFORM_STATES = new Set(['Plan', 'Apply', 'DetachVpc', 'ListVpcState']);

/**
 * A Terraform build that was killed (CodeBuild's timeout, or the run stopped or timed out while it ran) cannot
 * release Terraform's state lock: report it with the exact removal command, never remove it. Only after such a build:
 * a lock seen after a build that failed by itself, or in a step that runs no Terraform, may be another run's
 * (state-lock-held names that one). Best effort.
 */
async function terraformLockLeft(step: string, s: RunState, ports: NotifyPorts, settings: NotifySettings): Promise<string[]> {
  if (!TERRAFORM_STATES.has(step) || !ports.terraformLock || !settings.stateUrl) return [];
  const lock = await ports.terraformLock().catch(() => null);
  if (!lock) return [];
  const prefix = s.workspace?.workspacePrefix;
  return terraformLockNotes(lock, {
    stateUrl: settings.stateUrl,
    workspaceUrl: prefix ? `s3://${settings.artifactsBucket}/${prefix.replace(/\/?$/, '/')}` : null,
    projects: settings.projects ?? [],
  });
}
