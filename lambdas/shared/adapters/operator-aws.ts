import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import type { OperatorAws } from '../operator/commands';
import type { SubscriptionAws } from '../operator/subscriptions';
import { listTopicSubscriptions, subscribeEmail } from './topic-subscriptions';
import type { ArtifactReader } from '../operator/dal-policy';
import { historyEntryFromItem } from '../operator/history-view';
import { currentStateOf } from '../operator/status';
import { CURRENT_SORT_KEY, gatewayPartition } from './deployment-table';
import { VERIFIED } from '../domain/history';
import { LOCK_SORT_KEY } from '../domain/lock';

/**
 * The operator CLI's AWS calls, one request each, with clients of its own: the CLI runs on a laptop, in the
 * region given by `--region` (or the SDK's chain), unlike the Lambdas' shared clients in aws.ts.
 */

export interface OperatorAwsOptions {
  readonly region?: string;
  /** Tests only: moto. Otherwise the SDK's own AWS_ENDPOINT_URL handling applies. */
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export const HISTORY_SORT_PREFIX = 'RUN#';

/** How many of a running execution's newest events are read to find the state it is in. */
const HISTORY_EVENTS = 50;

export function operatorAws(options: OperatorAwsOptions = {}): OperatorAws & ArtifactReader & SubscriptionAws & { destroy(): void } {
  const config = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  const cfn = new CloudFormationClient(config);
  const sfn = new SFNClient(config);
  const ddb = new DynamoDBClient(config);
  const sns = new SNSClient(config);
  // An emulator's endpoint needs path-style addressing: `bucket.127.0.0.1` does not resolve.
  const s3 = new S3Client({ ...config, ...(options.endpoint ? { forcePathStyle: true } : {}) });

  return {
    region: async () => sfn.config.region(),

    stackOutputs: async (stack) => (await cfn.send(new DescribeStacksCommand({ StackName: stack }))).Stacks?.[0]?.Outputs ?? [],

    readLock: async (table, gateway) => {
      const out = await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: gatewayPartition(gateway) }, sk: { S: LOCK_SORT_KEY } }, ConsistentRead: true }));
      if (!out.Item) return null;
      return { executionArn: out.Item.executionArn?.S ?? '', acquiredAt: out.Item.acquiredAt?.S ?? '' };
    },

    readDeployed: async (table, gateway) => {
      const out = await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: gatewayPartition(gateway) }, sk: { S: CURRENT_SORT_KEY } }, ConsistentRead: true }));
      const version = out.Item?.version?.S;
      if (!version) return null;
      return {
        version,
        verification: out.Item?.verification?.S ?? VERIFIED,
        ...(out.Item?.deployedAt?.S ? { deployedAt: out.Item.deployedAt.S } : {}),
        ...(out.Item?.executionArn?.S ? { executionArn: out.Item.executionArn.S } : {}),
        ...(out.Item?.warnings?.S ? { warnings: out.Item.warnings.S.split('\n') } : {}),
      };
    },

    executionStatus: async (executionArn) => {
      try {
        return (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status ?? 'MISSING';
      } catch (error) {
        if ((error as Error).name === 'ExecutionDoesNotExist') return 'MISSING';
        throw error;
      }
    },

    startExecution: async (stateMachineArn, name, input) => {
      const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
      if (!out.executionArn) throw new Error('StartExecution returned no executionArn');
      return { executionArn: out.executionArn, ...(out.startDate ? { startDate: out.startDate } : {}) };
    },

    listExecutions: async (stateMachineArn, limit) => {
      const out = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: limit }));
      return (out.executions ?? []).map((e) => ({
        name: e.name ?? '',
        executionArn: e.executionArn ?? '',
        status: e.status ?? 'UNKNOWN',
        ...(e.startDate ? { startDate: e.startDate } : {}),
        ...(e.stopDate ? { stopDate: e.stopDate } : {}),
      }));
    },

    currentState: async (executionArn) => {
      const out = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: HISTORY_EVENTS, includeExecutionData: false }));
      return currentStateOf(out.events ?? []);
    },

    history: async (table, gateway, limit) => {
      const out = await ddb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
          ExpressionAttributeValues: { ':pk': { S: gatewayPartition(gateway) }, ':run': { S: HISTORY_SORT_PREFIX } },
          ScanIndexForward: false,
          Limit: limit,
        }),
      );
      return (out.Items ?? []).map(historyEntryFromItem);
    },

    readObject: async (bucket, key) => {
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await out.Body?.transformToString('utf-8')) ?? '';
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if ((error as Error).name === 'NoSuchKey' || status === 404) return null;
        throw error;
      }
    },

    listSubscriptions: (topicArn) => listTopicSubscriptions(sns, topicArn),

    subscribeEmail: (topicArn, address) => subscribeEmail(sns, topicArn, address),

    destroy: () => {
      sns.destroy();
      s3.destroy();
      cfn.destroy();
      sfn.destroy();
      ddb.destroy();
    },
  };
}
