import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface NotificationsProps {
  readonly key: kms.IKey;
  /** The HOWTO's wrap-up: "mailing to support@apheris.com to confirm the completion". */
  readonly supportEmails: readonly string[];
  /** Who approves plans and hears about failures. */
  readonly operatorEmails: readonly string[];
}

/** Two audiences: operators (approvals, failures, summaries) and vendor support (completion, smoke tests). */
export class Notifications extends Construct {
  readonly operatorsTopic: sns.Topic;
  readonly supportTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.operatorsTopic = new sns.Topic(this, 'Operators', {
      displayName: 'Compute Gateway deployer: operators',
      masterKey: props.key,
      enforceSSL: true,
    });
    this.supportTopic = new sns.Topic(this, 'Support', {
      displayName: 'Compute Gateway deployer: support',
      masterKey: props.key,
      enforceSSL: true,
    });
    for (const email of props.operatorEmails) this.operatorsTopic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const email of props.supportEmails) this.supportTopic.addSubscription(new subscriptions.EmailSubscription(email));
  }
}
