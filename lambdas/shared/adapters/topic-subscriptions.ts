import { ListSubscriptionsByTopicCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { ListedSubscription } from '../domain/subscriptions';

/**
 * The two SNS calls about the topics' e-mail subscriptions (domain/subscriptions.ts), on the caller's client:
 * the handlers' shared one (RequestApproval, Notify), or the operator CLI's own.
 */

/** More than any topic of the deployer has: a guard against a NextToken that never ends. */
const MAX_PAGES = 50;

/** sns:ListSubscriptionsByTopic, every page. */
export async function listTopicSubscriptions(client: SNSClient, topicArn: string): Promise<ListedSubscription[]> {
  const out: ListedSubscription[] = [];
  let NextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await client.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(NextToken ? { NextToken } : {}) }));
    for (const s of answer.Subscriptions ?? []) out.push({ SubscriptionArn: s.SubscriptionArn, Protocol: s.Protocol, Endpoint: s.Endpoint });
    NextToken = answer.NextToken;
    if (!NextToken) break;
  }
  return out;
}

/**
 * sns:Subscribe of an e-mail address: on an address whose subscription is pending, SNS sends the confirmation mail
 * again; on a deleted one it makes the subscription again (pending until confirmed). The ARN is returned in every
 * case (ReturnSubscriptionArn), `PendingConfirmation`'s included.
 */
export async function subscribeEmail(client: SNSClient, topicArn: string, address: string): Promise<string | undefined> {
  const answer = await client.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'email', Endpoint: address, ReturnSubscriptionArn: true }));
  return answer.SubscriptionArn;
}
