import { covers, list, referencedIds, synth } from './support';

/**
 * Every principal can use the KMS key of what it reads and writes. DynamoDB, S3, SNS, Secrets Manager and CodeBuild
 * call KMS as the caller, so a role granted an action on an encrypted resource needs the key actions the service
 * then performs for it; without them the call fails in AWS with a KMS AccessDenied, which the emulator (no KMS
 * enforcement) cannot show. Found once already: the state machine's role deleting the lock item without kms:Decrypt.
 *
 * From the synthesized template, kmsGrantGaps:
 * 1. finds the encrypted resources and their keys: tables (SSESpecification.KMSMasterKeyId), buckets (aws:kms
 *    KMSMasterKeyID), topics and secrets (KmsMasterKeyId, KmsKeyId), CodeBuild projects (EncryptionKey), log groups
 *    (KmsKeyId), and the configured values secret with valuesSecretKmsKeyArn (outside the template);
 * 2. finds every Allow statement of every identity policy whose Resource names one (Ref, Fn::GetAtt, or an ARN built
 *    from one, `${arn}/*` included), and the roles its policy is attached to; this includes the state machine role's
 *    statements for direct service integrations (ReleaseLock's dynamodb:DeleteItem);
 * 3. works out the KMS actions those actions need (NEEDS): Decrypt to read; GenerateDataKey and Decrypt to write
 *    S3 objects, publish to a topic or put a secret value; Decrypt for every DynamoDB item action, writes included
 *    (DynamoDB encrypts items under the table key, which it decrypts as the caller; it calls GenerateDataKey only
 *    when the table is created); nothing for bucket-level S3 actions or deletes of objects. A CodeBuild project's
 *    service role needs GenerateDataKey and Decrypt for the artifacts, cache and logs it encrypts;
 * 4. asserts each role holds them on that key: an Allow statement of its own policies on the key (or "*"), or a
 *    statement of the key policy naming the role. For a key of the template, an identity policy counts only when
 *    the key policy delegates to the account (its root principal).
 *
 * AWS services that deliver into an encrypted resource call KMS as themselves and need a key-policy statement naming
 * the service: CloudWatch Logs for an encrypted log group; EventBridge (a rule's target), S3 (event notifications)
 * or any service a topic policy lets publish, for an encrypted topic. None does today: the topics are published to
 * by Lambda roles only, bucket events go to EventBridge and on to a Lambda, and no log group is KMS-encrypted. The
 * check is there so that such a delivery cannot arrive without its grant (the attack tests below show it).
 *
 * Not modelled: conditions (kms:ViaService, kms:EncryptionContext:..., dynamodb:LeadingKeys) are read as granting;
 * Deny statements, permission boundaries and SCPs; grants made at run time (kms:CreateGrant: DynamoDB's and
 * CodeBuild's own); key policies outside the template (the values secret's key is assumed to delegate to IAM, and
 * a secret without valuesSecretKmsKeyArn uses aws/secretsmanager, which needs no grant); resources outside the
 * template (a configured Terraform backend bucket or lock table); users and groups; kms:DescribeKey, ReEncrypt*.
 * Nor principals outside the template: operators whose CLI reads the table (status, history: kms:Decrypt) and the
 * release uploaders (s3:PutObject under releases/: kms:GenerateDataKey) get the key through their own IAM policies,
 * which count because the key policy delegates to the account.
 */

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const VALUES_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:gateway/values.yaml-??????`;
const DECRYPT = ['kms:Decrypt'];
const WRITE = ['kms:GenerateDataKey', 'kms:Decrypt'];

type Json = any;
interface Statement {
  Effect: string;
  Action?: string | string[];
  Resource?: unknown;
  Principal?: Json;
  Condition?: Json;
}
type Resources = Record<string, { Type: string; Properties?: Json }>;

/** What an action on an encrypted resource of each kind needs of its key. Actions not listed need nothing. */
const NEEDS: Record<string, Array<{ actions: string[]; kms: string[] }>> = {
  table: [
    {
      actions: ['GetItem', 'BatchGetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'ConditionCheckItem'].map((a) => `dynamodb:${a}`),
      kms: DECRYPT,
    },
  ],
  bucket: [
    { actions: ['s3:GetObject', 's3:GetObjectVersion'], kms: DECRYPT },
    { actions: ['s3:PutObject'], kms: WRITE },
  ],
  topic: [{ actions: ['sns:Publish'], kms: WRITE }],
  secret: [
    { actions: ['secretsmanager:GetSecretValue'], kms: DECRYPT },
    { actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecret'], kms: WRITE },
  ],
};

/** The key actions a service principal needs to deliver into a resource encrypted under the key. */
const SERVICE_NEEDS: Record<string, string[]> = {
  logs: ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:Decrypt'],
  events: WRITE,
  s3: WRITE,
};




/** A principal or ARN as text: Fn::Join flattened, the region and account pseudo parameters filled in. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, any>;
  if (node?.Ref === 'AWS::Region') return REGION;
  if (node?.Ref === 'AWS::AccountId') return ACCOUNT;
  if (node?.Ref === 'AWS::Partition') return 'aws';
  if (node?.Ref === 'AWS::URLSuffix') return 'amazonaws.com';
  if (Array.isArray(node?.['Fn::Join'])) return (node['Fn::Join'][1] as unknown[]).map(text).join(node['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** A key: the logical id of a key in the template, or the ARN of one outside it. */
type Key = { id: string } | { arn: string };
const keyOf = (value: unknown): Key | undefined => {
  if (value === undefined) return undefined;
  const [id] = referencedIds(value);
  return id ? { id } : { arn: text(value) };
};
const keyName = (key: Key) => ('id' in key ? key.id : key.arn);

interface Encrypted {
  /** A logical id, or the ARN of a resource outside the template. */
  name: string;
  kind: 'table' | 'bucket' | 'topic' | 'secret' | 'project' | 'logGroup';
  key: Key;
  /** Does a statement's Resource entry name this resource (or objects in it)? */
  named(resource: unknown): boolean;
}

/** Step 1: the KMS-encrypted resources of the template, and the configured ones outside it. */
function encryptedResources(resources: Resources, outside: Array<{ arn: string; keyArn: string }>): Encrypted[] {
  const found: Encrypted[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    const sse = p.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
    const key =
      r.Type === 'AWS::DynamoDB::Table' ? ['table', p.SSESpecification?.KMSMasterKeyId]
      : r.Type === 'AWS::S3::Bucket' ? ['bucket', sse?.SSEAlgorithm?.startsWith('aws:kms') ? sse.KMSMasterKeyID : undefined]
      : r.Type === 'AWS::SNS::Topic' ? ['topic', p.KmsMasterKeyId]
      : r.Type === 'AWS::SecretsManager::Secret' ? ['secret', p.KmsKeyId]
      : r.Type === 'AWS::CodeBuild::Project' ? ['project', p.EncryptionKey]
      : r.Type === 'AWS::Logs::LogGroup' ? ['logGroup', p.KmsKeyId]
      : undefined;
    const k = keyOf(key?.[1]);
    if (key && k) found.push({ name: id, kind: key[0] as Encrypted['kind'], key: k, named: (res) => referencedIds(res).includes(id) });
  }
  for (const { arn, keyArn } of outside) found.push({ name: arn, kind: 'secret', key: { arn: keyArn }, named: (res) => res === arn });
  return found;
}

interface Holder {
  role: string;
  policy: string;
  statement: Statement;
}

/** Every statement of every identity policy, with each role that holds it. */
function identityStatements(resources: Resources): Holder[] {
  const out: Holder[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      const roles = [
        ...referencedIds(p.Roles ?? []),
        // A managed policy also reaches the roles that list it in ManagedPolicyArns.
        ...Object.entries(resources)
          .filter(([, role]) => role.Type === 'AWS::IAM::Role' && referencedIds(role.Properties?.ManagedPolicyArns ?? []).includes(id))
          .map(([roleId]) => roleId),
      ];
      for (const role of roles) for (const statement of p.PolicyDocument.Statement as Statement[]) out.push({ role, policy: id, statement });
    }
    if (r.Type === 'AWS::IAM::Role') {
      for (const inline of list<Json>(p.Policies)) for (const statement of inline.PolicyDocument.Statement as Statement[]) out.push({ role: id, policy: id, statement });
    }
  }
  return out;
}

/** One thing a role or service needs: the key actions for what it does to one encrypted resource. */
interface KeyUse {
  who: string;
  why: string;
  resource: string;
  key: Key;
  kms: string[];
}

/** Steps 2 and 3: who does what to an encrypted resource, and what of its key that needs. */
function keyUses(resources: Resources, encrypted: Encrypted[]): KeyUse[] {
  const uses: KeyUse[] = [];
  const holders = identityStatements(resources);
  for (const target of encrypted) {
    for (const { role, statement } of holders) {
      if (statement.Effect !== 'Allow' || !list(statement.Resource).some(target.named)) continue;
      for (const rule of NEEDS[target.kind] ?? []) {
        const granted = list(statement.Action).filter((pattern) => rule.actions.some((action) => covers(pattern, action)));
        if (granted.length > 0) uses.push({ who: role, why: granted.join(','), resource: target.name, key: target.key, kms: rule.kms });
      }
    }
    if (target.kind === 'project') {
      const role = referencedIds(resources[target.name].Properties?.ServiceRole)[0];
      uses.push({ who: role, why: 'service role of the project', resource: target.name, key: target.key, kms: WRITE });
    }
    if (target.kind === 'logGroup') uses.push({ who: 'service:logs', why: 'writes the log group', resource: target.name, key: target.key, kms: SERVICE_NEEDS.logs });
  }
  // AWS services that deliver into an encrypted topic.
  for (const topic of encrypted.filter((e) => e.kind === 'topic')) {
    for (const [id, r] of Object.entries(resources)) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::Events::Rule' && list<Json>(p.Targets).some((t) => topic.named(t.Arn))) {
        uses.push({ who: 'service:events', why: `rule ${short(id)} targets it`, resource: topic.name, key: topic.key, kms: SERVICE_NEEDS.events });
      }
      const notifications = r.Type === 'AWS::S3::Bucket' ? p.NotificationConfiguration : r.Type === 'Custom::S3BucketNotifications' ? p.NotificationConfiguration : undefined;
      if (list<Json>(notifications?.TopicConfigurations).some((c) => topic.named(c.Topic))) {
        uses.push({ who: 'service:s3', why: `${short(id)} notifies it`, resource: topic.name, key: topic.key, kms: SERVICE_NEEDS.s3 });
      }
      if (r.Type === 'AWS::SNS::TopicPolicy' && referencedIds(p.Topics).includes(topic.name)) {
        for (const s of p.PolicyDocument.Statement as Statement[]) {
          if (s.Effect !== 'Allow' || !list(s.Action).some((a) => covers(a, 'sns:Publish'))) continue;
          for (const service of list<unknown>(s.Principal?.Service)) {
            const name = text(service).split('.')[0];
            uses.push({ who: `service:${name}`, why: `${short(id)} lets it publish`, resource: topic.name, key: topic.key, kms: SERVICE_NEEDS[name] ?? WRITE });
          }
        }
      }
    }
  }
  return uses;
}

/** Does this key-policy principal name the role or the service? */
function names(principal: Json, who: string): boolean {
  if (who.startsWith('service:')) {
    const service = who.slice('service:'.length);
    return list<unknown>(principal?.Service).some((s) => new RegExp(`^${service}\\.([a-z0-9-]+\\.)?amazonaws\\.com$`).test(text(s)));
  }
  return list<unknown>(principal?.AWS).some((p) => referencedIds(p).includes(who));
}

/** Step 4: the uses whose role or service lacks a key action, one line each. */
function kmsGrantGaps(template: Json, outside: Array<{ arn: string; keyArn: string }> = []): string[] {
  const resources = template.Resources as Resources;
  const holders = identityStatements(resources);
  const gaps: string[] = [];
  for (const use of kmsUses(template, outside)) {
    const keyPolicy = 'id' in use.key ? ((resources[use.key.id]?.Properties?.KeyPolicy?.Statement ?? []) as Statement[]) : [];
    // Without a statement for the account's root, the key's own policy is the only way in.
    const delegates = !('id' in use.key) || keyPolicy.some((s) => s.Effect === 'Allow' && list<unknown>(s.Principal?.AWS).some((p) => text(p) === `arn:aws:iam::${ACCOUNT}:root`));
    const onKey = (resource: unknown) => resource === '*' || ('id' in use.key ? referencedIds(resource).includes(use.key.id) : resource === use.key.arn);
    const holds = (action: string) =>
      keyPolicy.some((s) => s.Effect === 'Allow' && names(s.Principal, use.who) && list(s.Action).some((a) => covers(a, action))) ||
      (delegates &&
        holders.some(
          ({ role, statement: s }) => role === use.who && s.Effect === 'Allow' && list(s.Action).some((a) => covers(a, action)) && list(s.Resource).some(onKey),
        ));
    const missing = use.kms.filter((action) => !holds(action));
    if (missing.length > 0) gaps.push(`${short(use.who)}: ${use.why} on ${short(use.resource)} needs ${missing.join(', ')} on ${short(keyName(use.key))}`);
  }
  return gaps;
}

/** Steps 1 to 3, for the tests to see what was found. */
function kmsUses(template: Json, outside: Array<{ arn: string; keyArn: string }> = []): KeyUse[] {
  const resources = template.Resources as Resources;
  return keyUses(resources, encryptedResources(resources, outside));
}

/** A logical id without CDK's hash suffix. */
const short = (id: string) => id.replace(/[0-9A-F]{8}$/, '');

const variants: Array<[string, Json, Array<{ arn: string; keyArn: string }>]> = [
  ['example config', synth({}, false).template.toJSON(), []],
  [
    'every optional grant',
    synth({
      module: { create_vpc: false, vpc_id: 'vpc-045da9dc92fb2a887', node_subnet_ids: ['subnet-0640da74d7ffb177f'] },
      customGatewayTfKey: 'custom/gateway.tf',
      valuesSecretKmsKeyArn: KEY_ARN,
      drift: { schedule: 'rate(1 day)' },
    }).template.toJSON(),
    [{ arn: VALUES_SECRET_ARN, keyArn: KEY_ARN }],
  ],
];

describe.each(variants)('KMS grants (%s)', (name, template, outside) => {
  test('every role and service that uses an encrypted resource can use its key', () => {
    expect(kmsGrantGaps(template, outside)).toEqual([]);
  });

  test('the model sees the uses that matter: direct integrations, object ARNs, topics, builds, the values secret', () => {
    const seen = kmsUses(template, outside).map((u) => `${short(u.who)} ${u.why} ${short(u.resource)}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        'WorkflowStateMachineRole dynamodb:DeleteItem ArtifactsDeployments',
        'TerraformPlanRole s3:PutObject ArtifactsArtifactsBucket',
        'TerraformRole s3:PutObject ArtifactsStateBucket',
        'NotifyRole sns:Publish NotificationsSupport',
        'TerraformPlanRole service role of the project TerraformPlan',
        ...(name === 'every optional grant' ? ['PreflightRole secretsmanager:GetSecretValue arn:aws:secretsmanager:eu-central-1:123456789012:secret:gateway/values.yaml-??????'] : []),
      ]),
    );
    // No AWS service delivers into an encrypted resource today (see the top comment).
    expect(seen.filter((s) => s.startsWith('service:'))).toEqual([]);
  });
});

describe('KMS grants: the check catches what it is for', () => {
  const [, example] = variants[0];
  const resources = () => structuredClone(example.Resources) as Resources;
  const idOf = (rs: Resources, prefix: string) => Object.keys(rs).find((id) => id.startsWith(prefix))!;
  const gapsOf = (rs: Resources) => kmsGrantGaps({ ...example, Resources: rs });
  /** Drops `action` from the KMS statements of a role's default policy. */
  const dropKmsAction = (rs: Resources, policyPrefix: string, action: string) => {
    const policy = rs[idOf(rs, policyPrefix)].Properties.PolicyDocument;
    policy.Statement = (policy.Statement as Statement[])
      .map((s) => (list(s.Action).some((a) => a.startsWith('kms:')) ? { ...s, Action: list(s.Action).filter((a) => a !== action && a !== `${action}*`) } : s))
      .filter((s) => list(s.Action).length > 0);
  };

  test("the state machine role without kms:Decrypt: ReleaseLock's DeleteItem on the table is reported", () => {
    const rs = resources();
    dropKmsAction(rs, 'WorkflowStateMachineRoleDefaultPolicy', 'kms:Decrypt');
    expect(gapsOf(rs)).toEqual(['WorkflowStateMachineRole: dynamodb:DeleteItem on ArtifactsDeployments needs kms:Decrypt on ArtifactsKey']);
  });

  test('...and a key-policy statement naming the role closes the gap instead', () => {
    const rs = resources();
    dropKmsAction(rs, 'WorkflowStateMachineRoleDefaultPolicy', 'kms:Decrypt');
    const role = idOf(rs, 'WorkflowStateMachineRole');
    rs[idOf(rs, 'ArtifactsKey')].Properties.KeyPolicy.Statement.push({ Effect: 'Allow', Principal: { AWS: { 'Fn::GetAtt': [role, 'Arn'] } }, Action: 'kms:Decrypt', Resource: '*' });
    expect(gapsOf(rs)).toEqual([]);
  });

  test('a writer of `${bucket}/*` objects without kms:GenerateDataKey is reported, for each bucket it writes', () => {
    const rs = resources();
    dropKmsAction(rs, 'TerraformRoleDefaultPolicy', 'kms:GenerateDataKey');
    expect(gapsOf(rs)).toEqual(
      expect.arrayContaining([
        'TerraformRole: s3:PutObject on ArtifactsStateBucket needs kms:GenerateDataKey on ArtifactsKey',
        'TerraformRole: service role of the project on TerraformApply needs kms:GenerateDataKey on ArtifactsKey',
      ]),
    );
  });

  test('a publisher to an encrypted topic without kms:GenerateDataKey is reported', () => {
    const rs = resources();
    dropKmsAction(rs, 'RequestApprovalRoleDefaultPolicy', 'kms:GenerateDataKey');
    expect(gapsOf(rs)).toEqual(['RequestApprovalRole: sns:Publish on NotificationsOperators needs kms:GenerateDataKey on ArtifactsKey']);
  });

  test('a key policy without the account root statement makes every identity grant void', () => {
    const rs = resources();
    rs[idOf(rs, 'ArtifactsKey')].Properties.KeyPolicy.Statement = [];
    expect(gapsOf(rs).length).toBeGreaterThan(10);
  });

  test('an EventBridge rule targeting an encrypted topic needs events.amazonaws.com in the key policy', () => {
    const rs = resources();
    rs.FailureRule = { Type: 'AWS::Events::Rule', Properties: { Targets: [{ Arn: { Ref: idOf(rs, 'NotificationsOperators') }, Id: 'T' }] } };
    expect(gapsOf(rs)).toEqual(['service:events: rule FailureRule targets it on NotificationsOperators needs kms:GenerateDataKey, kms:Decrypt on ArtifactsKey']);
    rs[idOf(rs, 'ArtifactsKey')].Properties.KeyPolicy.Statement.push({
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      Resource: '*',
    });
    expect(gapsOf(rs)).toEqual([]);
  });

  test('S3 event notifications to an encrypted topic need s3.amazonaws.com in the key policy', () => {
    const rs = resources();
    const [notifications] = Object.values(rs).filter((r) => r.Type === 'Custom::S3BucketNotifications').map((r) => r.Properties);
    notifications.NotificationConfiguration = { TopicConfigurations: [{ Topic: { Ref: idOf(rs, 'NotificationsOperators') }, Events: ['s3:ObjectCreated:*'] }] };
    expect(gapsOf(rs)).toEqual([
      'service:s3: ArtifactsArtifactsBucketNotifications notifies it on NotificationsOperators needs kms:GenerateDataKey, kms:Decrypt on ArtifactsKey',
    ]);
  });

  test('a log group encrypted with the key needs the CloudWatch Logs service in the key policy', () => {
    const rs = resources();
    rs[idOf(rs, 'WorkflowLogs')].Properties.KmsKeyId = { 'Fn::GetAtt': [idOf(rs, 'ArtifactsKey'), 'Arn'] };
    expect(gapsOf(rs)).toEqual(['service:logs: writes the log group on WorkflowLogs needs kms:Encrypt, kms:GenerateDataKey, kms:Decrypt on ArtifactsKey']);
    rs[idOf(rs, 'ArtifactsKey')].Properties.KeyPolicy.Statement.push({
      Effect: 'Allow',
      Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:GenerateDataKey*'],
      Resource: '*',
    });
    expect(gapsOf(rs)).toEqual([]);
  });

  test('the values secret read without its own key is reported (every optional grant)', () => {
    const [, optional, outside] = variants[1];
    const rs = structuredClone(optional.Resources) as Resources;
    const policy = rs[idOf(rs, 'PreflightRoleDefaultPolicy')].Properties.PolicyDocument;
    // CDK merges it into the statement on the stack's key: only the ARN is taken out.
    policy.Statement = (policy.Statement as Statement[]).map((s) => ({ ...s, Resource: list(s.Resource).filter((r) => r !== KEY_ARN) }));
    expect(kmsGrantGaps({ ...optional, Resources: rs }, outside)).toEqual([`PreflightRole: secretsmanager:GetSecretValue on ${VALUES_SECRET_ARN} needs kms:Decrypt on ${KEY_ARN}`]);
  });
});
