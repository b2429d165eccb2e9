import {
  assessTopic,
  notConfirmed,
  RESEND_COMMAND,
  resendTargets,
  STATE_LABEL,
  TOPIC_PURPOSE,
  TOPICS,
  type AddressState,
  type ListedSubscription,
  type TopicFindings,
  type TopicKind,
} from '../domain/subscriptions';
import { explainAwsError, OperatorError, type Target } from './cli-commands';
import { discover, type OperatorAws } from './commands';
import { renderTable } from './text-format';

/**
 * `subscriptions`: the e-mail subscriptions of the support and operators topics against the config, and with
 * `--resend` a confirmation mail again for each configured address that is not confirmed; and the line `status`
 * shows about them. The AWS calls are ports (adapters/operator-aws.ts), as for the other commands.
 */

export interface SubscriptionAws {
  /** sns:ListSubscriptionsByTopic, every page. */
  listSubscriptions(topicArn: string): Promise<ListedSubscription[]>;
  /** sns:Subscribe, Protocol email, ReturnSubscriptionArn: the subscription's ARN (or PendingConfirmation). */
  subscribeEmail(topicArn: string, address: string): Promise<string | undefined>;
}

/** The addresses of the gateway config (notifications), and where they were read. */
export interface ConfiguredAddresses {
  readonly gatewayName: string;
  readonly source: string;
  readonly supportEmails: readonly string[];
  readonly operatorEmails: readonly string[];
}

export interface SubscriptionsOptions {
  readonly configured: ConfiguredAddresses;
  readonly resend?: boolean;
  readonly json?: boolean;
}

export type SubscriptionPorts = Pick<OperatorAws, 'region' | 'stackOutputs'> & SubscriptionAws & { print(line: string): void };

const TOPIC_OUTPUT: Readonly<Record<TopicKind, 'SupportTopicArn' | 'OperatorsTopicArn'>> = { support: 'SupportTopicArn', operators: 'OperatorsTopicArn' };

export const configuredOf = (c: Pick<ConfiguredAddresses, 'supportEmails' | 'operatorEmails'>): Record<TopicKind, readonly string[]> => ({
  support: c.supportEmails,
  operators: c.operatorEmails,
});

export interface ResendResult {
  readonly topic: TopicKind;
  readonly address: string;
  readonly result: 'sent' | 'failed';
  readonly subscriptionArn?: string;
  readonly error?: string;
}

export interface SubscriptionsReport {
  readonly gateway: string;
  readonly stack: string;
  readonly region: string;
  readonly configSource: string;
  readonly topics: readonly TopicFindings[];
  readonly resent?: readonly ResendResult[];
}

/** A failed SNS call in the operator's words: a missing permission names the action and the topic (exit 2). */
function explainSnsError(error: unknown, action: string, topicArn: string): unknown {
  const explained = explainAwsError(error);
  if (explained !== error) return explained;
  const e = error as { name?: string; message?: string };
  if (/AccessDenied|AuthorizationError/i.test(e?.name ?? '')) {
    return new OperatorError(`not allowed to ${action} on ${topicArn}: ${e.message ?? ''}`.trim(), 2);
  }
  return error;
}

async function listTopic(ports: SubscriptionAws, topic: TopicKind, topicArn: string, configured: readonly string[]): Promise<TopicFindings> {
  try {
    return assessTopic(topic, topicArn, configured, await ports.listSubscriptions(topicArn));
  } catch (error) {
    throw explainSnsError(error, 'list its subscriptions (sns:ListSubscriptionsByTopic)', topicArn);
  }
}

/**
 * Lists both topics' subscriptions against the config's addresses; with `resend`, subscribes again each
 * configured address that is not confirmed (and only those: resendTargets). Refuses (exit 2) a config of another
 * gateway, whose addresses would be checked against, and sent to, this gateway's topics.
 */
export async function runSubscriptions(target: Target, options: SubscriptionsOptions, ports: SubscriptionPorts): Promise<SubscriptionsReport> {
  const { configured } = options;
  if (configured.gatewayName !== target.gateway) {
    throw new OperatorError(
      `the config (${configured.source}) is gateway ${configured.gatewayName}'s, not ${target.gateway}'s: pass ${target.gateway}'s config with --config, its notifications addresses are the ones checked`,
      2,
    );
  }
  const { region, outputs } = await discover(target, ports, ['SupportTopicArn', 'OperatorsTopicArn']);
  const addresses = configuredOf(configured);
  const topics = await Promise.all(TOPICS.map((topic) => listTopic(ports, topic, outputs[TOPIC_OUTPUT[topic]], addresses[topic])));

  let resent: ResendResult[] | undefined;
  if (options.resend) {
    resent = [];
    for (const t of resendTargets(topics, addresses)) {
      try {
        const subscriptionArn = await ports.subscribeEmail(t.topicArn, t.address);
        resent.push({ topic: t.topic, address: t.address, result: 'sent', ...(subscriptionArn ? { subscriptionArn } : {}) });
      } catch (error) {
        // No credentials, no region, no network: nothing else would work either.
        const environment = explainAwsError(error);
        if (environment !== error) throw environment;
        const e = error as { name?: string; message?: string };
        const denied = /AccessDenied|AuthorizationError/i.test(e?.name ?? '') ? ` (needs sns:Subscribe on ${t.topicArn})` : '';
        resent.push({ topic: t.topic, address: t.address, result: 'failed', error: `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}${denied}` });
      }
    }
  }

  const report: SubscriptionsReport = { gateway: target.gateway, stack: target.stack, region, configSource: configured.source, topics, ...(resent ? { resent } : {}) };
  if (options.json) ports.print(JSON.stringify(report, null, 2));
  else for (const line of formatSubscriptions(report)) ports.print(line);
  const failed = (resent ?? []).filter((r) => r.result === 'failed');
  if (failed.length > 0) throw new OperatorError(`${failed.length} of ${resent!.length} confirmation mail(s) could not be sent: ${failed.map((f) => `${f.address} (${f.error})`).join('; ')}`, 1);
  return report;
}

export function formatSubscriptions(report: SubscriptionsReport): string[] {
  const lines = [`Gateway ${report.gateway}: stack ${report.stack} in ${report.region}; configured addresses from ${report.configSource}`];
  for (const t of report.topics) {
    lines.push('', `${t.topic === 'support' ? 'Support' : 'Operators'} topic (${TOPIC_PURPOSE[t.topic]}): ${t.topicArn}`);
    if (t.addresses.length === 0) lines.push(`  no address configured (notifications.${t.topic === 'support' ? 'supportEmails' : 'operatorEmails'})`);
    else lines.push(...renderTable(['ADDRESS', 'STATE', 'WHAT TO DO'], t.addresses.map((a) => [a.address, STATE_LABEL[a.state], a.action])).map((l) => `  ${l}`));
    for (const o of t.others) lines.push(`  also on the topic, not in the config: ${o.endpoint} (${o.protocol}, ${STATE_LABEL[o.state]}); --resend leaves it alone`);
  }
  const open = notConfirmed(report.topics);
  lines.push('');
  if (report.resent) {
    if (report.resent.length === 0) lines.push('Nothing to re-send: every configured address is confirmed.');
    for (const r of report.resent) {
      lines.push(
        r.result === 'sent'
          ? `Re-sent: ${r.address} (${r.topic} topic): SNS mailed it a confirmation link; its owner must click it within 48 hours`
          : `Not re-sent: ${r.address} (${r.topic} topic): ${r.error}`,
      );
    }
  } else if (open.length === 0) {
    lines.push('Every configured address is confirmed.');
  } else {
    lines.push(`${open.length} configured address${open.length > 1 ? 'es are' : ' is'} not confirmed: ${RESEND_COMMAND} sends ${open.length > 1 ? 'their' : 'its'} confirmation mail again.`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------
// status

export interface StatusSubscriptions {
  readonly checked: boolean;
  /** checked false: why. */
  readonly error?: string;
  /** Configured addresses not confirmed, and subscriptions of the topics that wait for confirmation. */
  readonly notConfirmed: ReadonlyArray<{ readonly topic: TopicKind; readonly address: string; readonly state: AddressState; readonly configured: boolean }>;
}

/**
 * What `status` says about the subscriptions, best effort: undefined when the stack has no topic outputs or the
 * CLI cannot list them (a fake without the port); a failed listing is a `checked: false`, never a failed status.
 * `configured` undefined (no config of this gateway): only the topics' pending subscriptions are known.
 */
export async function statusSubscriptions(
  outputs: Readonly<Partial<Record<string, string>>>,
  configured: Pick<ConfiguredAddresses, 'supportEmails' | 'operatorEmails'> | undefined,
  ports: Partial<SubscriptionAws>,
): Promise<StatusSubscriptions | undefined> {
  const list = ports.listSubscriptions;
  if (!list || !outputs.SupportTopicArn || !outputs.OperatorsTopicArn) return undefined;
  const addresses = configured ? configuredOf(configured) : { support: [], operators: [] };
  try {
    const topics = await Promise.all(TOPICS.map(async (topic) => assessTopic(topic, outputs[TOPIC_OUTPUT[topic]]!, addresses[topic], await list(outputs[TOPIC_OUTPUT[topic]]!))));
    return {
      checked: true,
      notConfirmed: topics.flatMap((t) => [
        ...t.addresses.filter((a) => a.state !== 'confirmed').map((a) => ({ topic: t.topic, address: a.address, state: a.state, configured: true })),
        ...t.others.filter((o) => o.state === 'pending-confirmation').map((o) => ({ topic: t.topic, address: o.endpoint, state: o.state, configured: false })),
      ]),
    };
  } catch (error) {
    const e = error as { name?: string; message?: string };
    return { checked: false, error: `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`, notConfirmed: [] };
  }
}

/** `status`'s lines: one per subscription not confirmed, one when the check failed; none when all is well. */
export function subscriptionStatusLines(s: StatusSubscriptions | undefined): string[] {
  if (!s) return [];
  if (!s.checked) return ['', `Subscriptions: not checked (${s.error}); npx gateway-deployer subscriptions shows them`];
  if (s.notConfirmed.length === 0) return [];
  return [
    '',
    ...s.notConfirmed.map(
      (n) => `Subscription not confirmed: ${n.address} on the ${n.topic} topic (${STATE_LABEL[n.state]}${n.configured ? '' : ', not in the config'})${n.configured ? `: ${RESEND_COMMAND}` : ''}`,
    ),
  ];
}
