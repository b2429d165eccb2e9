import type { LockItem } from './cli-commands';
import { formatDuration, formatTime, renderTable } from './text-format';

/**
 * The pure part of `status`: where a running deployment is, and the report printed (or given as JSON) for the
 * lock and the latest executions.
 */

/** The main path of a deployment, in order: a running execution's progress is its place in this list. */
export const MAIN_STATES = [
  'ReceiveRequest',
  'AcquireLock',
  'Preflight',
  'RenderWorkspace',
  'Plan',
  'AnalyzePlan',
  'RequestApproval',
  'Apply',
  'Verify',
  'EvaluateVerification',
  'RecordDeployment',
  'NotifySuccess',
  'ReleaseLock',
] as const;

/** The states that wait for an operator's `approve` or `reject` (a plan; the name-reuse remediation's uninstall). */
export const APPROVAL_STATES: readonly string[] = ['RequestApproval', 'ApproveUninstall'];

/** `8/13 states` for a state of the main path; undefined for any other (a failure path, a new state). */
export function progressOf(state: string): string | undefined {
  const index = (MAIN_STATES as readonly string[]).indexOf(state);
  return index < 0 ? undefined : `${index + 1}/${MAIN_STATES.length} states`;
}

/** `Apply (8/13 states)`, or just the name of a state outside the main path. */
export function describeState(state: string | null | undefined): string {
  if (!state) return 'unknown';
  const progress = progressOf(state);
  return progress ? `${state} (${progress})` : state;
}

/** The history event shape this needs (GetExecutionHistory's HistoryEvent). */
export interface HistoryEventLike {
  readonly id?: number;
  readonly type?: string;
  readonly stateEnteredEventDetails?: { readonly name?: string };
}

/**
 * The state the execution is in: the latest StateEntered event. Chosen by event id rather than position, so it
 * holds whichever order the page came in (the CLI asks for reverseOrder, to get the newest events first).
 */
export function currentStateOf(events: readonly HistoryEventLike[]): string | null {
  let best: { id: number; name: string } | null = null;
  for (const [position, e] of events.entries()) {
    const name = e.stateEnteredEventDetails?.name;
    if (!name || !e.type?.endsWith('StateEntered')) continue;
    const id = e.id ?? position;
    if (!best || id > best.id) best = { id, name };
  }
  return best?.name ?? null;
}

export interface ExecutionView {
  readonly name: string;
  readonly executionArn: string;
  readonly status: string;
  readonly startDate?: Date;
  readonly stopDate?: Date;
  /** Running executions only: the state it is in (null when the history did not say). */
  readonly currentState?: string | null;
}

/** The CURRENT item as `status` shows it. */
export interface DeployedView {
  readonly version: string;
  readonly verification: string;
  readonly deployedAt?: string;
  readonly executionArn?: string;
  /** Preflight's warnings of the run that applied it. */
  readonly warnings?: readonly string[];
}

export interface StatusReport {
  readonly gateway: string;
  readonly stack: string;
  readonly region: string;
  readonly stateMachineArn: string;
  readonly at: Date;
  /** Absent in reports made before the CURRENT item was read (tests of the older shape). */
  readonly deployed?: DeployedView | null;
  readonly lock: (LockItem & { readonly holderStatus: string }) | null;
  readonly executions: readonly ExecutionView[];
}

export const anyRunning = (report: Pick<StatusReport, 'executions'>): boolean => report.executions.some((e) => e.status === 'RUNNING');

export const isWaitingForApproval = (e: ExecutionView): boolean => e.status === 'RUNNING' && APPROVAL_STATES.includes(e.currentState ?? '');

/** The command that answers a waiting approval, with the flags that found this stack. */
export function approveCommand(executionName: string, where: { stack: string; region: string }): string {
  return `npx gateway-deployer approve --stack ${where.stack} --region ${where.region} --execution ${executionName} --reason "<why>"`;
}

/** Last segment of an execution ARN (`…:execution:<machine>:<name>`). */
export const executionNameOfArn = (arn: string): string => arn.slice(arn.lastIndexOf(':') + 1);

/** Newest first, the limit applied: ListExecutions' order, not trusted blindly. */
export function newestFirst<T extends { startDate?: Date }>(executions: readonly T[], limit: number): T[] {
  return [...executions].sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0)).slice(0, limit);
}

function timing(e: ExecutionView, now: Date): { stopped: string; duration: string } {
  if (!e.startDate) return { stopped: '-', duration: '-' };
  if (e.stopDate) return { stopped: formatTime(e.stopDate), duration: formatDuration(e.stopDate.getTime() - e.startDate.getTime()) };
  return { stopped: '-', duration: `${formatDuration(now.getTime() - e.startDate.getTime())} so far` };
}

export function formatStatus(report: StatusReport): string[] {
  const lines = [`Gateway ${report.gateway}: stack ${report.stack} in ${report.region}, at ${formatTime(report.at)}`];
  if (report.deployed !== undefined) lines.push(deployedLine(report.deployed), ...(report.deployed?.warnings ?? []).map((w) => `  warning: ${w}`));
  const lock = report.lock;
  lines.push(
    lock
      ? `Lock: held by ${executionNameOfArn(lock.executionArn)} since ${formatTime(lock.acquiredAt)} (${lock.holderStatus === 'MISSING' ? 'unknown to Step Functions' : lock.holderStatus})` +
          (lock.holderStatus === 'RUNNING' ? '' : '; the next run takes it over')
      : 'Lock: free',
  );
  lines.push('');
  if (report.executions.length === 0) {
    lines.push(`No executions of ${report.stateMachineArn} yet: start one with \`npx gateway-deployer start --version <semver>\``);
    return lines;
  }
  const rows = report.executions.map((e) => {
    const t = timing(e, report.at);
    return [e.name, e.status, formatTime(e.startDate), t.stopped, t.duration, e.status === 'RUNNING' ? describeState(e.currentState) : ''];
  });
  lines.push(...renderTable(['EXECUTION', 'STATUS', 'STARTED', 'STOPPED', 'DURATION', 'CURRENT STATE'], rows));
  for (const e of report.executions.filter(isWaitingForApproval)) {
    lines.push('', `${e.name} is waiting for approval: ${approveCommand(e.name, report)}`);
  }
  return lines;
}

/** `Deployed: 1.3.0, not verified: failed at Verify (…), applied 2026-12-04 10:00:00Z by cli-1-3-0-…`. */
export function deployedLine(d: DeployedView | null): string {
  if (!d) return 'Deployed: nothing yet (the first run is an install)';
  const when = d.deployedAt ? `, applied ${formatTime(d.deployedAt)}` : '';
  const by = d.executionArn ? ` by ${executionNameOfArn(d.executionArn)}` : '';
  return `Deployed: ${d.version}, ${d.verification}${when}${by}`;
}

/** The same report for scripts: ISO times, durations in seconds, progress as numbers. */
export function statusJson(report: StatusReport): Record<string, unknown> {
  const iso = (d?: Date) => d?.toISOString() ?? null;
  return {
    gateway: report.gateway,
    stack: report.stack,
    region: report.region,
    stateMachineArn: report.stateMachineArn,
    at: report.at.toISOString(),
    ...(report.deployed !== undefined ? { deployed: report.deployed } : {}),
    lock: report.lock,
    executions: report.executions.map((e) => {
      const index = e.currentState ? (MAIN_STATES as readonly string[]).indexOf(e.currentState) : -1;
      const end = e.stopDate ?? (e.status === 'RUNNING' ? report.at : undefined);
      return {
        name: e.name,
        executionArn: e.executionArn,
        status: e.status,
        startDate: iso(e.startDate),
        stopDate: iso(e.stopDate),
        durationSeconds: e.startDate && end ? Math.round((end.getTime() - e.startDate.getTime()) / 1000) : null,
        ...(e.status === 'RUNNING'
          ? {
              currentState: e.currentState ?? null,
              progress: index < 0 ? null : { step: index + 1, of: MAIN_STATES.length },
              waitingForApproval: isWaitingForApproval(e),
            }
          : {}),
      };
    }),
  };
}
