/**
 * The e-mail subscriptions of the stack's two topics (lib/constructs/notifications.ts): support (the wrap-up mail
 * of the vendor's HOWTO "Deploying on AWS EKS") and operators (approval requests, failure notices, summaries). An
 * e-mail subscription delivers nothing until its owner confirms it, and SNS deletes one left unconfirmed for 48
 * hours; CloudFormation does not make it again. Pure: the configured addresses against what
 * sns:ListSubscriptionsByTopic returned, and the lines operators read about it.
 */

export const TOPICS = ['support', 'operators'] as const;
export type TopicKind = (typeof TOPICS)[number];

/** What each topic carries, as operators read it. */
export const TOPIC_PURPOSE: Readonly<Record<TopicKind, string>> = {
  support: 'the wrap-up mail of the HOWTO "Deploying on AWS EKS"',
  operators: 'approval requests, failure notices and run summaries',
};

/** The fields of ListSubscriptionsByTopic's Subscription this needs. */
export interface ListedSubscription {
  readonly SubscriptionArn?: string;
  readonly Protocol?: string;
  readonly Endpoint?: string;
}

/** SubscriptionArn of a subscription that waits for its owner's click. */
export const PENDING_CONFIRMATION = 'PendingConfirmation';

/** missing: deleted (left unconfirmed for 48 hours, or unsubscribed) or never created. */
export type AddressState = 'confirmed' | 'pending-confirmation' | 'missing';

export const RESEND_COMMAND = 'npx gateway-deployer subscriptions --resend';

export const STATE_LABEL: Readonly<Record<AddressState, string>> = {
  confirmed: 'confirmed',
  'pending-confirmation': 'pending confirmation',
  missing: 'missing',
};

/** What to do about an address in each state. */
export const ACTION: Readonly<Record<AddressState, string>> = {
  confirmed: 'nothing: mail reaches it',
  'pending-confirmation': `its owner clicks "Confirm subscription" in the mail from AWS Notifications before SNS deletes it (48 hours); to send that mail again: ${RESEND_COMMAND}`,
  missing: `deleted (unconfirmed for 48 hours, or unsubscribed) or never created, and cdk deploy does not make it again: ${RESEND_COMMAND}, then its owner confirms`,
};

export interface AddressFinding {
  readonly topic: TopicKind;
  /** As configured (notifications.supportEmails / operatorEmails). */
  readonly address: string;
  readonly state: AddressState;
  /** Confirmed only. */
  readonly subscriptionArn?: string;
  readonly action: string;
}

/** A subscription of the topic that the config does not name: shown, never re-sent. */
export interface OtherSubscription {
  readonly protocol: string;
  readonly endpoint: string;
  readonly state: Exclude<AddressState, 'missing'>;
}

export interface TopicFindings {
  readonly topic: TopicKind;
  readonly topicArn: string;
  readonly addresses: readonly AddressFinding[];
  readonly others: readonly OtherSubscription[];
}

/** Addresses compare without case and surrounding blanks (as the stack's are typed, and as SNS shows them). */
const normalized = (address: string) => address.trim().toLowerCase();

/** A real ARN: confirmed. `PendingConfirmation` (or anything else but an ARN): waiting. `Deleted`: gone. */
function stateOfArn(arn: string | undefined): Exclude<AddressState, 'missing'> | 'deleted' {
  if (arn?.startsWith('arn:')) return 'confirmed';
  if (arn === 'Deleted') return 'deleted';
  return 'pending-confirmation';
}

const isEmail = (s: ListedSubscription) => (s.Protocol ?? '').toLowerCase() === 'email';

/** The findings of one topic: every configured address (once), then the topic's other subscriptions. */
export function assessTopic(topic: TopicKind, topicArn: string, configured: readonly string[], listed: readonly ListedSubscription[]): TopicFindings {
  const seen = new Set<string>();
  const addresses: AddressFinding[] = [];
  for (const address of configured) {
    const key = normalized(address);
    if (seen.has(key)) continue;
    seen.add(key);
    const states = listed.filter((s) => isEmail(s) && normalized(s.Endpoint ?? '') === key).map((s) => ({ s, state: stateOfArn(s.SubscriptionArn) }));
    const confirmed = states.find((x) => x.state === 'confirmed');
    const state: AddressState = confirmed ? 'confirmed' : states.some((x) => x.state === 'pending-confirmation') ? 'pending-confirmation' : 'missing';
    addresses.push({ topic, address, state, ...(confirmed ? { subscriptionArn: confirmed.s.SubscriptionArn! } : {}), action: ACTION[state] });
  }
  const others = listed
    .filter((s) => !(isEmail(s) && seen.has(normalized(s.Endpoint ?? ''))))
    .map((s) => ({ protocol: s.Protocol ?? '', endpoint: s.Endpoint ?? '', state: stateOfArn(s.SubscriptionArn) }))
    .filter((o): o is OtherSubscription => o.state !== 'deleted');
  return { topic, topicArn, addresses, others };
}

export const notConfirmed = (reports: readonly TopicFindings[]): AddressFinding[] => reports.flatMap((r) => r.addresses.filter((a) => a.state !== 'confirmed'));

export interface ResendTarget {
  readonly topic: TopicKind;
  readonly topicArn: string;
  readonly address: string;
}

/**
 * What `--resend` subscribes: the configured addresses that are not confirmed, spelled as configured. Taken from
 * `configured` itself, never from a finding's or the topic's text: an address somebody else subscribed to the
 * topic (a pending one included) is never sent a confirmation by the deployer.
 */
export function resendTargets(reports: readonly TopicFindings[], configured: Readonly<Record<TopicKind, readonly string[]>>): ResendTarget[] {
  const out: ResendTarget[] = [];
  for (const report of reports) {
    const open = new Set(report.addresses.filter((a) => a.state !== 'confirmed').map((a) => normalized(a.address)));
    const done = new Set<string>();
    for (const address of configured[report.topic] ?? []) {
      const key = normalized(address);
      if (!open.has(key) || done.has(key)) continue;
      done.add(key);
      out.push({ topic: report.topic, topicArn: report.topicArn, address });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The run's notices

/** approval: the approval request, before the run ends. completion: the operators' mail after the wrap-up went out. */
export type NoticeMoment = 'approval' | 'completion';

function noticeLine(f: AddressFinding, moment: NoticeMoment): string {
  const has = f.state === 'missing' ? `has no subscription to the ${f.topic} topic (deleted after 48 hours unconfirmed, or never created)` : `has not confirmed its subscription to the ${f.topic} topic`;
  if (f.topic === 'support') {
    const what =
      moment === 'approval'
        ? 'the wrap-up mail will not reach it'
        : 'this run\'s wrap-up mail did not reach it (confirm the completion with your Apheris representative yourself, as the HOWTO "Deploying on AWS EKS" says)';
    return `${f.address} ${has}: ${what}; run ${RESEND_COMMAND}`;
  }
  return `${f.address} ${has}: approval requests and failure notices will not reach it (nor does this mail: it reaches the confirmed operators only); run ${RESEND_COMMAND}`;
}

/** The lines a notice carries about unconfirmed subscriptions; none when every configured address is confirmed. */
export function subscriptionNoticeLines(reports: readonly TopicFindings[], moment: NoticeMoment): string[] {
  const open = notConfirmed(reports);
  if (open.length === 0) return [];
  return ['E-mail subscriptions (checked by this run, best effort):', ...open.map((f) => `  ! ${noticeLine(f, moment)}`), ''];
}

/** The notice's line when the check itself failed: it never holds up the run or the notice. */
export function checkFailedLines(error: unknown): string[] {
  const e = error as { name?: string; message?: string };
  const why = `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`.slice(0, 200);
  return [`E-mail subscriptions: not checked (${why}); the check is best effort and did not hold up the run. See them with npx gateway-deployer subscriptions.`, ''];
}

export interface SubscriptionCheckTarget {
  readonly topic: TopicKind;
  readonly topicArn: string;
  readonly configured: readonly string[];
}

/** How long a notice waits for the check before it goes out without it. */
export const CHECK_TIMEOUT_MS = 5000;

/** Both topics listed and assessed, within `timeoutMs`; rejects with the first failure (or a TimeoutError). */
export async function checkSubscriptions(
  targets: readonly SubscriptionCheckTarget[],
  list: (topicArn: string) => Promise<readonly ListedSubscription[]>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<TopicFindings[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { name: 'TimeoutError' })), timeoutMs);
  });
  try {
    return await Promise.race([Promise.all(targets.map(async (t) => assessTopic(t.topic, t.topicArn, t.configured, await list(t.topicArn)))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The lines a notice carries, best effort: the unconfirmed addresses, or that the check failed (throttled,
 * denied, timed out). Never throws, so it can stop neither the run nor the notice.
 */
export async function subscriptionNotice(
  targets: readonly SubscriptionCheckTarget[],
  list: (topicArn: string) => Promise<readonly ListedSubscription[]>,
  moment: NoticeMoment,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<string[]> {
  try {
    return subscriptionNoticeLines(await checkSubscriptions(targets, list, timeoutMs), moment);
  } catch (error) {
    return checkFailedLines(error);
  }
}
