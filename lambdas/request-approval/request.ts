import { parseConfigJson } from '../shared/domain/gateway-config';
import { approvalRound } from '../shared/domain/decision';
import { approvalRequestMessage } from '../shared/domain/messages';
import { subscriptionNotice, type ListedSubscription } from '../shared/domain/subscriptions';
import type { PendingApproval } from '../shared/adapters/approvals';

/**
 * The HOWTO's "Only 'yes' will be accepted", asked of operators: the round is stored with its task token and
 * digest for the approval function, the plan is described, and the state machine waits until the approval
 * function answers or the timeout ends the run.
 */

export interface RequestApprovalEvent {
  /** Wakes the run; it is in the execution history too, so it approves nothing by itself (CheckApproval). */
  readonly taskToken: string;
  readonly executionArn: string;
  /** Which approval state asks, and the build whose output it asks about: together the round. */
  readonly approvalState: string;
  readonly subjectBuildId: string;
  readonly executionName: string;
  readonly config: string;
  readonly preflight: {
    readonly gateway: string;
    readonly version: string;
    readonly previousVersion: string | null;
    readonly change: string;
    /** Absent in results of a Preflight older than the operations: a deploy. */
    readonly operation?: string;
    readonly warnings?: readonly string[];
  };
  readonly analysis: {
    readonly line: string;
    readonly changes: ReadonlyArray<{ readonly address: string; readonly action: string }>;
    readonly changesNotListed: number;
    readonly risk: { readonly level: string; readonly reasons: readonly string[] };
    readonly because: string;
    readonly planTextKey: string;
    readonly planJsonKey: string;
    /** The sha256 of what an approval approves. */
    readonly planSha256: string;
  };
}

export interface RequestApprovalPorts {
  store(approval: PendingApproval): Promise<void>;
  publish(subject: string, text: string): Promise<void>;
  now(): Date;
  /** sns:ListSubscriptionsByTopic; without it (or without the topics) the request says nothing about subscriptions. */
  listSubscriptions?(topicArn: string): Promise<readonly ListedSubscription[]>;
}

export interface Deployment {
  readonly artifactsBucket: string;
  readonly stackName: string;
  readonly region: string;
  /** The topics whose e-mail subscriptions the request checks (best effort) against config.notifications. */
  readonly topics?: { readonly support: string; readonly operators: string };
}

export async function requestApproval(event: RequestApprovalEvent, ports: RequestApprovalPorts, deployment: Deployment): Promise<void> {
  const config = parseConfigJson(event.config);
  const now = ports.now();
  await ports.store({
    executionName: event.executionName,
    executionArn: event.executionArn,
    gateway: event.preflight.gateway,
    round: approvalRound(event.approvalState, event.subjectBuildId),
    taskToken: event.taskToken,
    planSha256: event.analysis.planSha256,
    requestedAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + (config.approval.timeoutHours + 24) * 3600,
  });
  const s3Url = (key: string) => `s3://${deployment.artifactsBucket}/${key}`;
  // The first run's approval request is where operators learn that a mail of the run cannot arrive: best effort.
  const subscriptionNotes =
    ports.listSubscriptions && deployment.topics
      ? await subscriptionNotice(
          [
            { topic: 'support', topicArn: deployment.topics.support, configured: config.notifications.supportEmails },
            { topic: 'operators', topicArn: deployment.topics.operators, configured: config.notifications.operatorEmails },
          ],
          (topicArn) => ports.listSubscriptions!(topicArn),
          'approval',
        )
      : [];
  const message = approvalRequestMessage({
    gateway: event.preflight.gateway,
    executionName: event.executionName,
    stackName: deployment.stackName,
    region: deployment.region,
    fromVersion: event.preflight.previousVersion,
    toVersion: event.preflight.version,
    change: event.preflight.change,
    line: event.analysis.line,
    changes: event.analysis.changes,
    changesNotListed: event.analysis.changesNotListed,
    riskLevel: event.analysis.risk.level,
    riskReasons: event.analysis.risk.reasons,
    because: event.analysis.because,
    planTextUrl: s3Url(event.analysis.planTextKey),
    planJsonUrl: s3Url(event.analysis.planJsonKey),
    timeoutHours: config.approval.timeoutHours,
    planSha256: event.analysis.planSha256,
    ...(event.preflight.operation ? { operation: event.preflight.operation } : {}),
    ...(event.preflight.warnings?.length ? { warnings: event.preflight.warnings } : {}),
    ...(subscriptionNotes.length ? { subscriptionNotes } : {}),
  });
  await ports.publish(message.subject, message.text);
}
