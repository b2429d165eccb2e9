/**
 * The rehearsal: the synthesized GatewayDeployment state machine run end to end on this machine, offline.
 * aws-local-stepfunctions executes the real definition; Lambda tasks run the real handlers in-process, CodeBuild
 * tasks run the real buildspecs with the local buildspec runner (real terraform and kubectl, the helper's EKS token),
 * AWS is moto_server, the cluster is the Kubernetes API stand-in with a helm stand-in. Fake credentials and the
 * emulator endpoint are forced before anything else, so a rehearsal cannot reach real AWS.
 */
import { type BucketLocationConstraint, CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { StateMachine } from 'aws-local-stepfunctions';

type EventLog = AsyncGenerator<unknown> extends never ? never : any;
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseGatewayConfig, type GatewayConfig, type GatewayConfigInput } from '../../lambdas/shared/domain/gateway-config';
import { PLAN_READER_ACCESS_FILE } from '../../lambdas/shared/domain/workspace';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { isolateFromRealAws } from '../support/aws-isolation';
import { checkOnce, stepSourceInto } from '../support/build-cache';
import { runBuildspec } from '../support/buildspec-runner';
import { OFFLINE_PROVIDERS, awsProviderMirrorConfig, emulatorOverride, withoutOfflineProviders } from '../support/terraform-mirror';
import { agentDeployment, helmReleaseSecret, jobPod, node, startKubeStandin, type KubeStandin } from '../support/kube-standin';
import { listFiles } from '../support/files';
import { localKubectlVersion } from '../support/local-tools';
import { zipDirectory } from '../support/zip-fixtures';
import { REHEARSAL_ACCOUNT, REHEARSAL_REGION, resolveStack, synthesize, type RehearsalTarget, type ResolvedStack } from './template';
import { standInNetwork } from './network';

const ROOT = path.join(__dirname, '..', '..');
export const SAMPLE_MODULE_DIR = path.join(ROOT, 'test', 'fixtures', 'sample-gateway-module');
const HELM_STANDIN_DIR = path.join(ROOT, 'test', 'support', 'helm-standin');

/** Values that look like the Bitwarden link's, and are not the HOWTO's placeholders. */
export const SAMPLE_VALUES_YAML = [
  'tenant: "rehearsal-tenant-7f3a"',
  'auth:',
  '  domain: auth.app.apheris.net',
  '  orchestrator:',
  '    clientId: "rehearsal-client-5d1c"',
  '    clientSecret: "rehearsal-secret-9b2e"',
  'helmRepoUsername: "rehearsal-helm-user"',
  'helmRepoPassword: "rehearsal-helm-pass-3c8d"',
  '',
].join('\n');

export interface RehearsalOptions {
  readonly motoEndpoint: string;
  /** Builds, plugin cache and the bundled step helpers go here. */
  readonly workDir: string;
  /** A gateway-<version>.zip; default: the sample module zipped as gateway-1.0.0.zip. */
  readonly bundlePath?: string;
  readonly valuesYaml?: string;
  readonly config?: GatewayConfigInput;
  /** The execution input as typed in the console; default `{ "version": <bundle version> }`. */
  readonly input?: unknown;
  readonly approve?: RehearsedApproval;
  /** console: start the run with the input; s3: upload the bundle and let the release trigger start it. */
  readonly trigger?: 'console' | 's3';
  /** With trigger s3: how many times EventBridge delivers the upload's event (it delivers at least once). */
  readonly deliveries?: number;
  /** The upload's S3 user metadata (x-amz-meta-*), e.g. expected-agent-version and sha256 for the release trigger. */
  readonly uploadMetadata?: Readonly<Record<string, string>>;
  /** What the stand-in cluster runs; default the bundle version. */
  readonly agentVersion?: string;
  readonly connectivity?: 'pass' | 'fail';
  /**
   * The seed's FAQ "cannot re-use a name that is still in use": the stand-in cluster already has the Helm release
   * apheris-gateway (its release secret sh.helm.release.v1.apheris-gateway.v1) although the Terraform state does
   * not, so the sample module's `helm install` fails the first apply. `unmanaged`: nothing else claims it;
   * `flux`: the agent Deployment carries Flux helm-controller's labels (HelmRelease flux-system/apheris-gateway);
   * `argocd`: it carries Argo CD's tracking annotation and instance label (Application apheris-gateway).
   * Default: none.
   */
  readonly preexistingRelease?: 'unmanaged' | 'flux' | 'argocd';
  /**
   * Helm releases of other names already on the stand-in cluster (their release secrets, nothing else), e.g.
   * prometheus in monitoring: with the sample module's test-only input simulate_other_helm_release of the same
   * name, the apply fails with "cannot re-use a name that is still in use" about that release. Default: none.
   */
  readonly otherReleases?: ReadonlyArray<{ readonly release: string; readonly namespace: string }>;
  /**
   * The config targets another account than the emulator answers as, on purpose: Preflight's identity check is
   * what is rehearsed. The stack is then resolved in the emulator's account. Default: such a mismatch is refused
   * before the run, with the fix (MOTO_ACCOUNT_ID).
   */
  readonly accountMismatch?: boolean;
  /** Emulator resource names start with it; rehearsals with the same prefix share state (upgrades). */
  readonly prefix?: string;
  /** Prints each state as it runs. */
  readonly print?: (line: string) => void;
  /** Writes the execution history, notifications, build and handler logs, and every object left in S3 here. */
  readonly dumpDir?: string;
  /**
   * Keeps the emulator's buckets (with the Terraform state) and table between rehearsals, so an upgrade from one
   * bundle to the next can be rehearsed across runs of `npm run rehearse`.
   */
  readonly stateDir?: string;
  /** Runs after the emulator's resources exist and before the run starts: tests seed a lock or a state here. */
  readonly beforeRun?: (resources: RehearsalResources) => Promise<void>;
  /**
   * An end no Catch sees: when the run enters `state`, the execution is stopped, and then handed to the real RunEnded
   * (as the EventBridge rule would) with `status`, ABORTED (someone stopped it) or TIMED_OUT (the machine's timeout).
   * `beforeEnd` runs in between: a test seeds what a stopped build leaves (Terraform's lock file).
   */
  readonly endAt?: { readonly state: string; readonly status: 'ABORTED' | 'TIMED_OUT'; readonly beforeEnd?: (resources: RehearsalResources) => Promise<void> };
  /** Failures injected into the run, each on the first invocation of the named task state only: see RehearsalFaults. */
  readonly faults?: RehearsalFaults;
  /**
   * The CodeBuild projects' roles are made in the emulator from the synthesized template (managed and inline
   * policies, resolved to the emulator's names), and every build runs with a session of its project's role. The
   * emulator must have been started with MOTO_IAM_LOAD_MANAGED_POLICIES=true. The run itself happens with moto's
   * IAM authorization off: moto 5.2.1 miscomputes the signature of S3 listings with a prefix, which every build
   * makes; tests switch authorization on afterwards and try the roles' calls one by one. The Lambdas' roles are not
   * made: under authorization moto 5.2.1 refuses DynamoDB calls allowed on a table ARN, and fails on a secret ARN
   * ending in `-??????`, so their scoped policies cannot be run against it (test/cdk/iam.test.ts asserts them).
   */
  readonly buildRoles?: boolean;
  /**
   * The rendered providers.tf.json runs, with the real hashicorp/aws provider from the machine's Terraform
   * filesystem mirror (/opt/tf-plugins, or TF_PROVIDER_MIRROR) pointed at the emulator by an override file next to
   * it (emulator_override.tf.json). The one edit of the rendered file: the helm, kubectl and kubernetes providers,
   * which cannot be had offline, are taken out (said so on the rehearsal's output), with the Plan role's cluster
   * binding that needs kubectl. The cluster the module reads is created in the emulator first; moto
   * picks its endpoint, so Verify is still steered to the Kubernetes API stand-in. Each Terraform command then loads
   * the ~700 MB provider (a plan takes ~10 s of CPU): use it where it proves something the other rehearsals cannot.
   */
  readonly realAwsProvider?: boolean;
}

/**
 * Faults that strike the FIRST invocation of a named task state; later invocations (the state's retries, a second
 * round) run for real, so the report shows what the state machine's Retry makes of them.
 */
export interface RehearsalFaults {
  /**
   * State → error name, thrown before the real work, as Step Functions reports it: for example
   * `CodeBuild.AccountLimitExceededException` (the build was never started) or, from a Lambda state,
   * `ThrottlingException` or `Lambda.ServiceException`.
   */
  readonly transient?: Readonly<Record<string, string>>;
  /**
   * Lambda states whose first invocation finds AWS unreachable: every connection the handler opens to the emulator
   * goes to a closed loopback port instead, so the real SDK gets a real ECONNREFUSED (and retries it as it would),
   * and the real handler fails with whatever error that gives.
   */
  readonly unreachable?: readonly string[];
}

/** Where the rehearsal's stack lives in the emulator. */
export interface RehearsalResources {
  readonly table: string;
  readonly artifactsBucket: string;
  readonly stateBucket: string;
  readonly stateMachineArn: string;
}

export interface StateRecord {
  readonly name: string;
  readonly type: string;
  readonly outcome: 'succeeded' | 'failed' | 'caught' | 'retried';
  readonly durationMs: number;
  readonly error?: string;
}

export interface Notification {
  readonly topic: string;
  readonly subject: string;
  readonly message: string;
}

export interface RehearsalReport {
  /** NOT_STARTED: with --trigger s3, the release trigger decided not to start a run (see error and cause). */
  readonly status: 'SUCCEEDED' | 'FAILED' | 'NOT_STARTED' | 'ABORTED' | 'TIMED_OUT';
  readonly executionName: string;
  readonly error?: string;
  readonly cause?: string;
  readonly states: StateRecord[];
  /** Wall time of the execution itself, from its start to its end: the emulator set-up and the dump are not in it. */
  readonly executionMs?: number;
  readonly notifications: Notification[];
  readonly output?: unknown;
  readonly resources: RehearsalResources;
  /** With trigger s3: what the release trigger did with each delivery of the upload's event, with the execution name. */
  readonly triggerDecisions?: string[];
  /** What the emulator stood in for, for this config (its account, region, network, values secret). */
  readonly standIns: string[];
  /** The Helm release secrets on the stand-in cluster when the run ended, as `<namespace>/<secret>`. */
  readonly clusterReleases?: string[];
}

const stepError = (name: string, cause: string) => Object.assign(new Error(cause), { name });

export function bundleVersionOf(file: string): string {
  const match = /^gateway-(.+)\.zip$/.exec(path.basename(file));
  if (!match) throw new Error(`bundle file ${file} is not named gateway-<version>.zip`);
  return match[1];
}

// Re-exported: the CLI and the benchmark isolate the same way before they load anything that makes a client.
export { isolateFromRealAws };

let boundPrefix: string | undefined;
let builtSource: string | undefined;
/** The account and region of the config being rehearsed: every ARN the harness makes is in them. */
let target: RehearsalTarget = { account: REHEARSAL_ACCOUNT, region: REHEARSAL_REGION };

type EmulatorOptions = Pick<RehearsalOptions, 'motoEndpoint' | 'config' | 'prefix' | 'valuesYaml' | 'accountMismatch'>;

/**
 * The stack's resources in the emulator, created as a rehearsal creates them (buckets, table, topics, the values
 * secret), without a run: for tests that seed what an earlier deployment left (a CURRENT item, a state) and then
 * rehearse against it. The same prefix rules as rehearse(): one per process.
 */
export async function rehearsalResources(options: EmulatorOptions): Promise<RehearsalResources> {
  return (await prepareEmulator(options)).resources;
}

async function prepareEmulator(options: EmulatorOptions) {
  isolateFromRealAws(options.motoEndpoint);
  const parsed = parseGatewayConfig(options.config ?? EXAMPLE_CONFIG, 'rehearsal config');
  process.env.AWS_REGION = process.env.AWS_DEFAULT_REGION = parsed.target.region;
  const answered = await emulatorAccount();
  if (answered !== parsed.target.account && !options.accountMismatch) {
    throw new Error(
      `the config targets account ${parsed.target.account}, but the emulator at ${options.motoEndpoint} answers as ${answered}: ` +
        `start moto_server with MOTO_ACCOUNT_ID=${parsed.target.account} (npm run rehearse does this itself)`,
    );
  }
  target = { account: answered, region: parsed.target.region };
  // The config's own VPC and subnets (create_vpc = false) are made in the emulator, which picks their ids.
  const { config, standIns: network } = await standInNetwork(parsed, options.motoEndpoint);
  const standIns = [
    `account ${parsed.target.account} in ${target.region}: moto_server, answering as ${target.account === parsed.target.account ? 'that account' : `${target.account} (the mismatch is rehearsed)`}`,
    `values secret ${config.valuesSecretName}: created in the emulator with ${options.valuesYaml === undefined ? 'sample values' : 'the values given'}`,
    ...network,
    'the EKS cluster: a local Kubernetes API stand-in, with a helm stand-in',
  ];
  const prefix = options.prefix ?? 'rehearsal';
  // Handlers read their resource names from the environment once, at import (as in Lambda), and stay loaded.
  if (boundPrefix !== undefined && boundPrefix !== prefix) {
    throw new Error(
      `this process already rehearsed with prefix "${boundPrefix}", and the loaded handlers keep its resource names: ` +
        'rehearse one prefix per process (a separate test file), or another gatewayName in the config for a separate gateway',
    );
  }
  boundPrefix = prefix;
  const stackName = `GatewayDeployer-${config.gatewayName}`;
  const stack = resolveStack(synthesize(config), prefix, stackName, target);
  const handlers = lambdaHandlers(stack);

  // Every handler reads its environment at import: the union of the stack's Lambda environments, resolved.
  for (const fn of handlers.values()) Object.assign(process.env, fn.env);
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';

  const clients = { s3: new S3Client({ forcePathStyle: true }), sns: new SNSClient({}), sqs: new SQSClient({}) };
  const artifactsBucket = process.env.ARTIFACTS_BUCKET!;
  const queues = await createResources(options.motoEndpoint, stack, config.valuesSecretName, options.valuesYaml ?? SAMPLE_VALUES_YAML, clients);
  const buckets = stack.logicalIdsOfType('AWS::S3::Bucket').map((id) => stack.ref(id));
  const tables = stack.logicalIdsOfType('AWS::DynamoDB::Table').map((id) => stack.ref(id));

  const machineName = `GatewayDeployment-${config.gatewayName}`;
  const resources: RehearsalResources = {
    table: process.env.DEPLOYMENTS_TABLE!,
    artifactsBucket,
    stateBucket: process.env.STATE_BUCKET!,
    // Where the release trigger starts executions in the emulator (the local run uses the name it chose).
    stateMachineArn: stack.ref(stack.logicalIdsOfType('AWS::StepFunctions::StateMachine')[0]),
  };
  return { config, prefix, stack, handlers, clients, artifactsBucket, queues, buckets, tables, machineName, resources, standIns };
}

/** The account moto_server answers as: MOTO_ACCOUNT_ID when it started, else 123456789012. */
async function emulatorAccount(): Promise<string> {
  const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({});
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Account!;
  } finally {
    sts.destroy();
  }
}

export async function rehearse(options: RehearsalOptions): Promise<RehearsalReport> {
  // Handler logs belong to one rehearsal's dump, not to every rehearsal of the process.
  handlerLogs.clear();
  const print = options.print ?? (() => undefined);
  const { config, prefix, stack, handlers, clients, artifactsBucket, queues, buckets, tables, machineName, resources, standIns } = await prepareEmulator(options);
  for (const line of standIns) print(`stand-in: ${line}`);
  print('');
  if (options.stateDir) await restoreState(options.stateDir, buckets, tables, clients.s3);
  await options.beforeRun?.(resources);
  if (options.realAwsProvider) await createEmulatorCluster(config.gatewayName);

  const bundlePath = options.bundlePath ?? (await sampleBundle(options.workDir));
  const version = bundleVersionOf(bundlePath);
  const bundleKey = `${config.bundle.releasesPrefix}gateway-${version}.zip`;
  const put = await clients.s3.send(
    new PutObjectCommand({ Bucket: artifactsBucket, Key: bundleKey, Body: fs.readFileSync(bundlePath), ...(options.uploadMetadata ? { Metadata: { ...options.uploadMetadata } } : {}) }),
  );

  let executionName = `rehearsal-${Date.now()}-${randomUUID().slice(0, 8)}`;
  let input: unknown = options.input ?? { version };
  let triggerDecisions: string[] | undefined;
  let startedArn: string | undefined;
  if (options.trigger === 's3') {
    // The upload's EventBridge event, handed to the real release trigger, which starts the run in the emulator.
    const deliveries = await startFromUpload(stack, handlers, { key: bundleKey, etag: put.ETag, 'version-id': put.VersionId }, options.deliveries ?? 1);
    triggerDecisions = deliveries.map((d) => (d.executionName ? `${d.action} ${d.executionName}` : d.action));
    const started = deliveries.find((d) => d.executionArn) ?? deliveries[0];
    if (!started.executionArn) {
      return { status: 'NOT_STARTED', resources, standIns, triggerDecisions, executionName: '', error: `ReleaseTrigger:${started.action}`, cause: started.reason ?? 'duplicate event', states: [], notifications: await drain(queues, clients.sqs) };
    }
    executionName = started.executionName;
    startedArn = started.executionArn;
    input = started.input;
  }
  const sourceDir = path.join(options.workDir, 'source');
  // The bundled step helpers (esbuild, about a second) once per process: later rehearsals copy them.
  if (builtSource && fs.existsSync(builtSource)) fs.cpSync(builtSource, sourceDir, { recursive: true });
  else {
    stepSourceInto(sourceDir);
    builtSource = sourceDir;
  }
  const agentVersion = options.agentVersion ?? version;
  const owner = options.preexistingRelease;
  const cluster = await startKubeStandin({
    deployments: [
      agentDeployment({
        image: `quay.io/apheris/gateway-agent:${agentVersion}`,
        ...(owner === 'flux' ? { extraLabels: { 'helm.toolkit.fluxcd.io/name': 'apheris-gateway', 'helm.toolkit.fluxcd.io/namespace': 'flux-system' } } : {}),
        ...(owner === 'argocd'
          ? {
              extraLabels: { 'app.kubernetes.io/instance': 'apheris-gateway' },
              annotations: { 'argocd.argoproj.io/tracking-id': 'apheris-gateway:apps/Deployment:apheris/apheris-gateway-agent' },
            }
          : {}),
      }),
    ],
    nodes: [node({ name: 'node-a', allocatableMemory: '16Gi' }), node({ name: 'node-b', allocatableMemory: '16Gi' })],
    pods: [jobPod({ name: 'job-1', jobId: 'j1', memoryRequest: '4Gi' }), jobPod({ name: 'job-2', jobId: 'j2', memoryRequest: '4Gi' })],
    // Installed by hand (or by another system) before this deployer ran: in the cluster, not in the Terraform state.
    secrets: [
      ...(owner ? [helmReleaseSecret({ chartVersion: agentVersion })] : []),
      ...(options.otherReleases ?? []).map((r) => helmReleaseSecret({ release: r.release, namespace: r.namespace, chart: r.release, chartVersion: '1.0.0' })),
    ],
  });

  // The trigger's execution in the emulator, when it started one: the lock then holds an ARN DescribeExecution knows.
  const executionArn = startedArn ?? `arn:aws:states:${target.region}:${target.account}:execution:${machineName}:${executionName}`;
  const states: StateRecord[] = [];
  try {
    const roleCredentials = options.buildRoles ? await projectRoleCredentials(stack) : undefined;
    const overrides = taskOverrides(stack, handlers, {
      options,
      cluster,
      sourceDir,
      artifactsBucket,
      s3: clients.s3,
      approve: options.approve ?? 'approve',
      config,
      ...(roleCredentials ? { roleCredentials } : {}),
    });
    // The ASL validation compiles its JSON schema anew each time (about a second): once per definition in a jest
    // run. Rehearsals differ in the names their prefix makes, which the validation does not look at (checkArn is
    // off), and in the gateway config the tasks get as one JSON string literal (`config`, not a path), so the
    // definition is compared with both taken out.
    const shape = JSON.stringify(stack.definition, (key, value) => (key === 'config' && typeof value === 'string' ? '<config>' : value));
    checkOnce('asl', shape.split(prefix).join('<prefix>'), () => {
      new StateMachine(stack.definition, { validationOptions: { checkArn: false } });
    });
    const machine = new StateMachine(stack.definition, { validationOptions: { checkArn: false, noValidate: true } });
    const retryIntervalOverrides = Object.fromEntries(
      Object.entries(stack.definition.States as Record<string, { Retry?: unknown[] }>)
        .filter(([, s]) => s.Retry)
        .map(([name]) => [name, 0]),
    );
    const executionStart = performance.now();
    const startDate = Date.now();
    const execution = machine.run(input as never, {
      noThrowOnAbort: true,
      overrides: { taskResourceLocalHandlers: overrides, retryIntervalOverrides },
      context: {
        Execution: { Id: executionArn, Name: executionName, StartTime: new Date().toISOString(), Input: input as never },
        Task: { Token: `rehearsal-task-token-${randomUUID()}` },
      },
    });
    const history: unknown[] = [];
    // The last state entered, with its input: what RunEnded reads from the execution history in AWS.
    let lastEntered: { name: string; state: unknown } | null = null;
    let ended = false;
    const onEnter = (name: string, state: unknown) => {
      lastEntered = { name, state };
      if (options.endAt?.state === name && !ended) {
        ended = true;
        execution.abort();
      }
    };
    const watching = watch(execution.eventLogs, states, print, history, onEnter);
    let status: RehearsalReport['status'] = 'SUCCEEDED';
    let output: unknown;
    let error: string | undefined;
    let cause: string | undefined;
    try {
      output = await execution.result;
    } catch (failure) {
      status = 'FAILED';
      const failed = [...states].reverse().find((s) => s.outcome === 'failed' && s.error);
      const info = failure as { name?: string; message?: string; cause?: { name?: string; message?: string } };
      error = info.cause?.name ?? failed?.error ?? info.name;
      cause = info.cause?.message ?? info.message;
    }
    await watching;
    if (ended && options.endAt) {
      status = options.endAt.status;
      print(`${options.endAt.status === 'ABORTED' ? 'stopped' : 'timed out'} in ${options.endAt.state}: the end goes to RunEnded, as the EventBridge rule sends it`);
      await options.endAt.beforeEnd?.(resources);
      await endedOutsideTheCatch(handlers, { executionArn, name: executionName, status: options.endAt.status, startDate, stopDate: Date.now() }, lastEntered);
    } else if (options.endAt) {
      throw new Error(`endAt: the run never entered ${options.endAt.state}`);
    }
    const executionMs = Math.round(performance.now() - executionStart);
    const notifications = await drain(queues, clients.sqs);
    if (options.dumpDir) await dump(options.dumpDir, { history, notifications, workDir: options.workDir, s3: clients.s3, buckets });
    if (options.stateDir) await saveState(options.stateDir, buckets, tables, clients.s3);
    const clusterReleases = cluster.state.secrets.filter((secret) => secret.metadata.labels?.owner === 'helm').map((secret) => `${secret.metadata.namespace}/${secret.metadata.name}`);
    return { status, resources, standIns, ...(triggerDecisions ? { triggerDecisions } : {}), executionName, ...(error ? { error } : {}), ...(cause ? { cause } : {}), states, executionMs, notifications, ...(output !== undefined ? { output } : {}), clusterReleases };
  } finally {
    await cluster.stop();
  }
}

/**
 * The EventBridge rule's delivery to RunEnded: its real ports (the lock table, the state bucket, the topics, the
 * history table) and settings, except the execution history. The execution ran in the local emulator, which AWS
 * Step Functions (and moto) never saw, so its GetExecutionHistory stands in with the last state the emulator entered.
 */
async function endedOutsideTheCatch(
  handlers: Map<string, HandlerInfo>,
  detail: { executionArn: string; name: string; status: 'ABORTED' | 'TIMED_OUT'; startDate: number; stopDate: number },
  lastEntered: { name: string; state: unknown } | null,
): Promise<void> {
  const fn = [...handlers.values()].find((h) => h.dir === 'run-ended');
  if (!fn) throw new Error('the stack has no RunEnded function');
  const mod = require(path.join(ROOT, 'lambdas', 'run-ended', 'index')) as typeof import('../../lambdas/run-ended/index');
  const { runEnded } = require(path.join(ROOT, 'lambdas', 'run-ended', 'ended')) as typeof import('../../lambdas/run-ended/ended');
  await runEnded({ detail }, { ...mod.ports, lastState: async () => lastEntered as never }, mod.settings);
}

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

const ignoreEntityExists = (e: unknown) => {
  if (!(e as Error).name.startsWith('EntityAlreadyExists')) throw e;
};

/**
 * Each CodeBuild project's role, made in the emulator as the template defines it (its managed policies and every
 * AWS::IAM::Policy attached to it, resolved to the emulator's names), and a session of it: project name → credentials.
 */
async function projectRoleCredentials(stack: ResolvedStack): Promise<Map<string, Credentials>> {
  const { IAMClient, CreateRoleCommand, AttachRolePolicyCommand, PutRolePolicyCommand } = await import('@aws-sdk/client-iam');
  const { STSClient, AssumeRoleCommand } = await import('@aws-sdk/client-sts');
  const iam = new IAMClient({});
  const sts = new STSClient({});
  const out = new Map<string, Credentials>();
  const sessions = new Map<string, Credentials>();
  try {
    for (const projectId of stack.logicalIdsOfType('AWS::CodeBuild::Project')) {
      const roleId: string = stack.resources[projectId].Properties!.ServiceRole['Fn::GetAtt'][0];
      if (!sessions.has(roleId)) {
        const roleName = stack.ref(roleId);
        const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${target.account}:root` }, Action: 'sts:AssumeRole' }] });
        await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: trust })).catch(ignoreEntityExists);
        for (const arn of stack.resolve(stack.resources[roleId].Properties!.ManagedPolicyArns ?? []) as string[]) {
          await iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: arn }));
        }
        for (const policyId of stack.logicalIdsOfType('AWS::IAM::Policy')) {
          const policy = stack.resources[policyId].Properties!;
          if (!(policy.Roles as Array<{ Ref?: string }>).some((r) => r.Ref === roleId)) continue;
          await iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyId, PolicyDocument: JSON.stringify(stack.resolve(policy.PolicyDocument)) }));
        }
        const c = (await sts.send(new AssumeRoleCommand({ RoleArn: stack.arn(roleId), RoleSessionName: 'rehearsal-build' }))).Credentials!;
        sessions.set(roleId, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
      }
      out.set(stack.ref(projectId), sessions.get(roleId)!);
    }
    return out;
  } finally {
    iam.destroy();
    sts.destroy();
  }
}

/**
 * The state machine exists in the emulator only so the release trigger can start it; its executions are then
 * run here, with the name and input the trigger chose.
 */
async function startFromUpload(
  stack: ResolvedStack,
  handlers: Map<string, HandlerInfo>,
  object: { key: string; etag?: string; 'version-id'?: string },
  deliveries: number,
): Promise<Array<{ action: string; reason?: string; executionArn?: string; executionName: string; input: unknown }>> {
  const { SFNClient, CreateStateMachineCommand, DescribeExecutionCommand } = await import('@aws-sdk/client-sfn');
  const sfn = new SFNClient({});
  const [machineId] = stack.logicalIdsOfType('AWS::StepFunctions::StateMachine');
  await sfn
    .send(
      new CreateStateMachineCommand({
        name: stack.ref(machineId).split(':').pop()!,
        roleArn: `arn:aws:iam::${target.account}:role/rehearsal-state-machine`,
        definition: JSON.stringify(stack.definition),
      }),
    )
    .catch((e) => {
      if (!/AlreadyExists/.test((e as Error).name)) throw e;
    });
  const trigger = [...handlers.values()].find((h) => h.dir === 'release-trigger');
  if (!trigger) throw new Error('the template has no release trigger function');
  const out: Array<{ action: string; reason?: string; executionArn?: string; executionName: string; input: unknown }> = [];
  for (let i = 0; i < deliveries; i++) {
    const started = (await invokeHandler(trigger, { detail: { object } })) as { action: string; reason?: string; executionArn?: string; executionName?: string; duplicate?: boolean };
    if (!started.executionArn) {
      out.push({ ...started, action: started.duplicate ? 'duplicate' : started.action, executionName: started.executionName ?? '', input: null });
      continue;
    }
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    out.push({ ...started, executionName: execution.name!, input: JSON.parse(execution.input ?? '{}') });
  }
  return out;
}

interface HandlerInfo {
  readonly dir: string;
  readonly env: Record<string, string>;
}

/** Function ARN → handler folder (from the function's POWERTOOLS_SERVICE_NAME) and resolved environment. */
function lambdaHandlers(stack: ResolvedStack): Map<string, HandlerInfo> {
  const out = new Map<string, HandlerInfo>();
  for (const id of stack.logicalIdsOfType('AWS::Lambda::Function')) {
    const env = stack.resolve(stack.resources[id].Properties?.Environment?.Variables ?? {}) as Record<string, string>;
    const service = env.POWERTOOLS_SERVICE_NAME;
    if (!service?.startsWith('gateway-deployer-')) continue;
    const { POWERTOOLS_SERVICE_NAME: _omit, ...rest } = env;
    out.set(stack.arn(id), { dir: service.slice('gateway-deployer-'.length), env: rest });
  }
  return out;
}

async function sampleBundle(workDir: string): Promise<string> {
  return sampleBundleFile(workDir, '1.0.0');
}

/**
 * `<dir>/gateway-<version>.zip` of the sample module, optionally with its pinned chart version changed (a real
 * upgrade: an in-place update of the Helm release) and the zip's bytes changed by `mutate`.
 */
export async function sampleBundleFile(
  dir: string,
  version: string,
  opts: { chartVersion?: string; mutate?: (zip: Buffer) => Buffer; withAwsProvider?: boolean } = {},
): Promise<string> {
  await fs.promises.mkdir(dir, { recursive: true });
  let moduleDir = SAMPLE_MODULE_DIR;
  if (opts.chartVersion || opts.withAwsProvider) {
    moduleDir = path.join(dir, `module-${version}`);
    await fs.promises.cp(SAMPLE_MODULE_DIR, moduleDir, { recursive: true });
  }
  if (opts.chartVersion) {
    const main = path.join(moduleDir, 'main.tf');
    await fs.promises.writeFile(main, (await fs.promises.readFile(main, 'utf-8')).replace('"0.16.20"', `"${opts.chartVersion}"`));
  }
  // With resources and data sources of the real AWS provider (for rehearsals with realAwsProvider).
  if (opts.withAwsProvider) await fs.promises.cp(path.join(ROOT, 'test', 'fixtures', 'sample-gateway-module-aws', 'aws.tf'), path.join(moduleDir, 'aws.tf'));
  const zip = await zipDirectory(moduleDir);
  const file = path.join(dir, `gateway-${version}.zip`);
  await fs.promises.writeFile(file, opts.mutate ? opts.mutate(zip) : zip);
  return file;
}

/** What this process created already, per emulator and set of names: the topics' queues. */
const created = new Map<string, Map<string, string>>();

/** After the emulator at `endpoint` was emptied (POST /moto-api/reset): the next rehearsal creates everything again. */
export function forgetEmulatorResources(endpoint: string): void {
  for (const key of created.keys()) if (key.startsWith(`${endpoint} `)) created.delete(key);
}

/**
 * The stack's buckets, table, topics (each with a queue that keeps what was published) and the values secret. A
 * later rehearsal of the same resources in the same emulator only writes the secret (the tests never delete them).
 */
async function createResources(
  endpoint: string,
  stack: ResolvedStack,
  secretName: string,
  valuesYaml: string,
  clients: { s3: S3Client; sns: SNSClient; sqs: SQSClient },
): Promise<Map<string, string>> {
  const exists = (e: unknown) => /AlreadyOwnedByYou|AlreadyExists|ResourceInUse|ResourceExists/.test((e as Error).name ?? '');
  const secrets = new SecretsManagerClient({});
  const secret = secrets.send(new CreateSecretCommand({ Name: secretName, SecretString: valuesYaml })).catch(async (e) => {
    if (!exists(e)) throw e;
    await secrets.send(new PutSecretValueCommand({ SecretId: secretName, SecretString: valuesYaml }));
  });
  const key = `${endpoint} ${['AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::SNS::Topic'].flatMap((t) => stack.logicalIdsOfType(t).map((id) => stack.ref(id))).join(' ')}`;
  const known = created.get(key);
  if (known) {
    await secret;
    return known;
  }
  const ignoreExisting = (e: unknown) => {
    if (!exists(e)) throw e;
  };
  // Independent resources, created at once (a rehearsal that stops at Preflight spent most of its time here).
  const buckets = stack.logicalIdsOfType('AWS::S3::Bucket').map(async (id) => {
    const bucket = stack.ref(id);
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, ...(target.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: target.region as BucketLocationConstraint } }) })).catch(ignoreExisting);
    if (stack.resources[id].Properties?.VersioningConfiguration) {
      await clients.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    }
  });
  const dynamodb = new DynamoDBClient({});
  const tables = stack.logicalIdsOfType('AWS::DynamoDB::Table').map(async (id) => {
    const p = stack.resources[id].Properties!;
    await dynamodb
      .send(new CreateTableCommand({ TableName: stack.ref(id), KeySchema: p.KeySchema, AttributeDefinitions: p.AttributeDefinitions, BillingMode: 'PAY_PER_REQUEST' }))
      .catch(ignoreExisting);
  });
  const topics = stack.logicalIdsOfType('AWS::SNS::Topic').map(async (id): Promise<[string, string]> => {
    const [topicArn, queueUrl] = await Promise.all([
      clients.sns.send(new CreateTopicCommand({ Name: stack.ref(id).split(':').pop()! })).then((r) => r.TopicArn!),
      clients.sqs.send(new CreateQueueCommand({ QueueName: `${stack.ref(id).split(':').pop()!}-outbox` })).then((r) => r.QueueUrl!),
    ]);
    const queueArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await clients.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
    // The stack's e-mail subscriptions (AWS::SNS::Subscription), which the notices check: moto confirms them at once.
    for (const subscriptionId of stack.logicalIdsOfType('AWS::SNS::Subscription')) {
      const p = stack.resources[subscriptionId].Properties!;
      if (p.Protocol !== 'email' || (p.TopicArn as { Ref?: string })?.Ref !== id) continue;
      await clients.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'email', Endpoint: p.Endpoint as string }));
    }
    return [id.replace(/^Notifications/, '').replace(/[A-F0-9]{8}$/, '').toLowerCase(), queueUrl];
  });
  const [queues] = await Promise.all([Promise.all(topics).then((entries) => new Map(entries)), Promise.all(buckets), Promise.all(tables), secret]);
  created.set(key, queues);
  return queues;
}

interface OverrideContext {
  readonly options: RehearsalOptions;
  readonly cluster: KubeStandin;
  readonly sourceDir: string;
  readonly artifactsBucket: string;
  readonly s3: S3Client;
  readonly approve: RehearsedApproval;
  readonly config: GatewayConfig;
  /** buildRoles: the credentials of each CodeBuild project's role, by project name. */
  readonly roleCredentials?: Map<string, Credentials>;
}

type TaskHandler = (input: any) => Promise<any>;

function taskOverrides(stack: ResolvedStack, handlers: Map<string, HandlerInfo>, ctx: OverrideContext): Record<string, TaskHandler> {
  const out: Record<string, TaskHandler> = {};
  for (const [name, state] of Object.entries(stack.definition.States as Record<string, { Type: string; Resource?: string; Parameters?: any }>)) {
    if (state.Type !== 'Task') continue;
    const resource = state.Resource ?? '';
    if (resource.endsWith(':states:::lambda:invoke.waitForTaskToken')) {
      out[name] = approvalTask(handlers.get(state.Parameters.FunctionName)!, ctx);
    } else if (resource.endsWith(':states:::codebuild:startBuild.sync')) {
      out[name] = buildTask(stack, ctx);
    } else if (/:states:::dynamodb:[a-zA-Z]+$/.test(resource)) {
      out[name] = dynamodbTask(resource.split(':').pop()!);
    } else if (handlers.has(resource)) {
      out[name] = lambdaTask(handlers.get(resource)!, ctx);
    } else {
      throw new Error(`the rehearsal cannot run task state ${name} (resource ${resource})`);
    }
  }
  return withFaults(stack, handlers, out, ctx);
}

/** Wraps the named states' task handlers so that their first invocation meets the fault (RehearsalFaults). */
function withFaults(stack: ResolvedStack, handlers: Map<string, HandlerInfo>, tasks: Record<string, TaskHandler>, ctx: OverrideContext): Record<string, TaskHandler> {
  const { transient = {}, unreachable = [] } = ctx.options.faults ?? {};
  const states = stack.definition.States as Record<string, { Resource?: string; Parameters?: { FunctionName?: string } }>;
  const isLambda = (name: string) => handlers.has(states[name]?.Resource ?? '') || handlers.has(states[name]?.Parameters?.FunctionName ?? '');
  for (const name of [...Object.keys(transient), ...unreachable]) {
    if (!tasks[name]) throw new Error(`fault for ${name}: the state machine has no task state of that name`);
  }
  for (const name of unreachable) {
    if (!isLambda(name)) throw new Error(`fault "unreachable" for ${name}: only Lambda states make their AWS calls in this process`);
  }
  const out = { ...tasks };
  for (const [name, error] of Object.entries(transient)) {
    const real = out[name];
    let struck = false;
    out[name] = async (input) => {
      if (struck) return real(input);
      struck = true;
      const message = `rehearsed transient fault: ${error} before ${name} did anything`;
      // A Lambda's error comes with a JSON cause; a service integration's with the service's message.
      throw stepError(error, isLambda(name) ? JSON.stringify({ errorType: error, errorMessage: message }) : message);
    };
  }
  for (const name of unreachable) {
    const real = out[name];
    let struck = false;
    out[name] = async (input) => {
      if (struck) return real(input);
      struck = true;
      return whileUnreachable(ctx.options.motoEndpoint, () => real(input));
    };
  }
  return out;
}

/**
 * Runs `work` with the emulator unreachable for this process: every HTTP connection to its host and port is made
 * to a loopback port that nothing listens on. At the agent, so a pooled keep-alive socket is not reused either.
 */
async function whileUnreachable<T>(endpoint: string, work: () => Promise<T>): Promise<T> {
  const net = require('node:net') as typeof import('node:net');
  const http = require('node:http') as typeof import('node:http');
  const closedPort = await new Promise<number>((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as import('node:net').AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const target = new URL(endpoint);
  const agent = http.Agent.prototype as unknown as { addRequest: (req: unknown, options: Record<string, unknown>) => void };
  const addRequest = agent.addRequest;
  agent.addRequest = function (this: unknown, req, options) {
    const toEmulator = String(options.port) === target.port && [options.host, options.hostname].includes(target.hostname);
    return addRequest.call(this, req, toEmulator ? { ...options, host: '127.0.0.1', hostname: '127.0.0.1', port: closedPort } : options);
  };
  try {
    return await work();
  } finally {
    agent.addRequest = addRequest;
  }
}

/** Handler log lines, by handler folder, as CloudWatch would hold them. */
const handlerLogs = new Map<string, string[]>();

async function invokeHandler(fn: HandlerInfo, payload: unknown): Promise<unknown> {
  const mod = require(path.join(ROOT, 'lambdas', fn.dir, 'index')) as { handler: (e: unknown) => Promise<unknown> };
  // Powertools writes JSON lines to stdout; keep them per handler instead of mixing them into the state lines.
  const lines = handlerLogs.get(fn.dir) ?? [];
  handlerLogs.set(fn.dir, lines);
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (!text.startsWith('{')) return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    lines.push(text.trimEnd());
    return true;
  }) as typeof process.stdout.write;
  try {
    return (await mod.handler(payload)) ?? null;
  } catch (e) {
    const error = e as Error;
    // What Step Functions makes of a Lambda error: the name as Error, a JSON Cause.
    throw stepError(error.name, JSON.stringify({ errorType: error.name, errorMessage: error.message }));
  } finally {
    process.stdout.write = write;
  }
}

/** Everything a run left, as files: what issue #7's secret canary scans. */
async function dump(
  dir: string,
  what: { history: unknown[]; notifications: Notification[]; workDir: string; s3: S3Client; buckets: string[] },
): Promise<void> {
  const { ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
  await fs.promises.mkdir(dir, { recursive: true });
  await fs.promises.writeFile(path.join(dir, 'execution-history.json'), JSON.stringify(what.history, null, 2));
  await fs.promises.mkdir(path.join(dir, 'notifications'), { recursive: true });
  for (const [i, n] of what.notifications.entries()) {
    await fs.promises.writeFile(path.join(dir, 'notifications', `${String(i + 1).padStart(2, '0')}-${n.topic}.txt`), `Subject: ${n.subject}\n\n${n.message}\n`);
  }
  await fs.promises.mkdir(path.join(dir, 'logs', 'builds'), { recursive: true });
  const buildsDir = path.join(what.workDir, 'builds');
  for (const build of fs.existsSync(buildsDir) ? await fs.promises.readdir(buildsDir) : []) {
    const log = path.join(buildsDir, build, 'build.log');
    if (fs.existsSync(log)) await fs.promises.copyFile(log, path.join(dir, 'logs', 'builds', `${build}.log`));
  }
  await fs.promises.mkdir(path.join(dir, 'logs', 'handlers'), { recursive: true });
  for (const [handler, lines] of handlerLogs) await fs.promises.writeFile(path.join(dir, 'logs', 'handlers', `${handler}.log`), `${lines.join('\n')}\n`);
  for (const bucket of what.buckets) {
    const versions = await what.s3.send(new ListObjectVersionsCommand({ Bucket: bucket })).catch(() => null);
    for (const v of versions?.Versions ?? []) {
      const out = await what.s3.send(new GetObjectCommand({ Bucket: bucket, Key: v.Key!, VersionId: v.VersionId === 'null' ? undefined : v.VersionId }));
      const file = path.join(dir, 's3', bucket, `${v.Key!}${v.IsLatest ? '' : `.version-${v.VersionId}`}`);
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await fs.promises.writeFile(file, Buffer.from(await out.Body!.transformToByteArray()));
    }
  }
}

/**
 * A direct DynamoDB integration (ReleaseLock), sent to the emulator as Step Functions would send it; an SDK error
 * comes back named the way the integration names it (`DynamoDB.ConditionalCheckFailedException`).
 */
function dynamodbTask(action: string): TaskHandler {
  return async (parameters) => {
    const sdk = require('@aws-sdk/client-dynamodb') as Record<string, new (input: unknown) => unknown>;
    const Command = sdk[`${action[0].toUpperCase()}${action.slice(1)}Command`];
    if (!Command) throw new Error(`the rehearsal has no DynamoDB ${action}`);
    try {
      return await new DynamoDBClient({}).send(new Command(parameters) as never);
    } catch (e) {
      throw stepError(`DynamoDB.${(e as Error).name}`, (e as Error).message);
    }
  };
}

function lambdaTask(fn: HandlerInfo, ctx: OverrideContext): TaskHandler {
  return async (payload) => {
    const result = await invokeHandler(fn, payload);
    if (fn.dir === 'render-workspace') {
      const r = result as { workspacePrefix: string; files: string[] };
      if (ctx.options.realAwsProvider) return realAwsProviderWorkspace(ctx, r);
      // Provider plugins cannot be downloaded offline: the rehearsal runs the workspace without providers.tf.json,
      // and without the Plan role's cluster binding (kubectl_manifest needs the kubectl provider), which it does not model.
      const offline = ['providers.tf.json', PLAN_READER_ACCESS_FILE];
      for (const name of offline.filter((f) => r.files.includes(f))) {
        await ctx.s3.send(new DeleteObjectCommand({ Bucket: ctx.artifactsBucket, Key: `${r.workspacePrefix}${name}` }));
      }
      return { ...r, files: r.files.filter((f) => !offline.includes(f)) };
    }
    return result;
  };
}

/** The EKS cluster the module reads through the AWS provider (realAwsProvider), made once in the emulator. */
async function createEmulatorCluster(name: string): Promise<void> {
  const { EKSClient, CreateClusterCommand } = await import('@aws-sdk/client-eks');
  const eks = new EKSClient({});
  try {
    await eks
      .send(new CreateClusterCommand({ name, roleArn: `arn:aws:iam::${target.account}:role/${name}-cluster`, resourcesVpcConfig: { subnetIds: [] } }))
      .catch((e) => {
        if ((e as Error).name !== 'ResourceInUseException') throw e;
      });
  } finally {
    eks.destroy();
  }
}

/**
 * realAwsProvider: the rendered providers.tf.json less the providers that cannot be had offline, and an override
 * file that points the AWS provider at the emulator; the Plan role's cluster binding (kubectl) is left out.
 */
async function realAwsProviderWorkspace(ctx: OverrideContext, r: { workspacePrefix: string; files: string[] }): Promise<unknown> {
  const key = `${r.workspacePrefix}providers.tf.json`;
  const rendered = withoutOfflineProviders(JSON.parse(await (await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.artifactsBucket, Key: key }))).Body!.transformToString()));
  const override = emulatorOverride(ctx.options.motoEndpoint);
  await Promise.all([
    ctx.s3.send(new PutObjectCommand({ Bucket: ctx.artifactsBucket, Key: key, Body: JSON.stringify(rendered, null, 2) })),
    ctx.s3.send(new PutObjectCommand({ Bucket: ctx.artifactsBucket, Key: `${r.workspacePrefix}emulator_override.tf.json`, Body: JSON.stringify(override, null, 2) })),
    r.files.includes(PLAN_READER_ACCESS_FILE) ? ctx.s3.send(new DeleteObjectCommand({ Bucket: ctx.artifactsBucket, Key: `${r.workspacePrefix}${PLAN_READER_ACCESS_FILE}` })) : undefined,
  ]);
  ctx.options.print?.(`  (real AWS provider from the mirror; left out, not installable offline: ${OFFLINE_PROVIDERS.join(', ')} providers, ${PLAN_READER_ACCESS_FILE})`);
  return { ...r, files: [...r.files.filter((f) => f !== PLAN_READER_ACCESS_FILE), 'emulator_override.tf.json'] };
}

/**
 * How the rehearsal answers an approval request. approve, reject: an operator of approval.approvers decides through
 * the real approval function, with an identity proof STS (moto) verifies. timeout: nobody answers. The attacks:
 * forged: the task token read from the execution history is sent back with SendTaskSuccess and no decision (what
 * anyone with states:GetExecutionHistory and states:SendTaskSuccess can do); swapped-plan: while the run waits, the
 * stored plan binary is replaced by another plan of the workspace, then the operator approves what was shown.
 */
export type RehearsedApproval = 'approve' | 'reject' | 'timeout' | 'forged' | 'swapped-plan';
export const REHEARSED_APPROVALS: readonly RehearsedApproval[] = ['approve', 'reject', 'timeout', 'forged', 'swapped-plan'];

/** RequestApproval for real (round stored, operators asked), then answered as options.approve says. */
function approvalTask(fn: HandlerInfo, ctx: OverrideContext): TaskHandler {
  return async (parameters) => {
    const payload = parameters.Payload;
    await invokeHandler(fn, payload);
    if (ctx.approve === 'timeout') throw stepError('States.Timeout', 'Task timed out.');
    if (ctx.approve === 'forged') {
      // The token is in the history (TaskScheduled); the sender writes whatever it likes as the result.
      return { approved: true, decidedBy: `arn:aws:iam::${target.account}:role/PowerUser`, reason: 'sent with the token from the execution history' };
    }
    if (ctx.approve === 'swapped-plan' && payload.approvalState === 'RequestApproval') await swapPlan(ctx, payload.analysis.planPrefix);
    return operatorDecides(ctx, payload.executionName, ctx.approve === 'reject' ? 'reject' : 'approve');
  };
}

/** Replaces the waiting plan binary by another plan of the same gateway (an earlier run's), or by changed bytes. */
async function swapPlan(ctx: OverrideContext, planPrefix: string): Promise<void> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const target = `${planPrefix}tfplan`;
  const gatewayPrefix = planPrefix.split('/').slice(0, 2).join('/') + '/';
  const listed = await ctx.s3.send(new ListObjectsV2Command({ Bucket: ctx.artifactsBucket, Prefix: gatewayPrefix }));
  const other = (listed.Contents ?? [])
    .filter((o) => o.Key!.endsWith('/tfplan') && o.Key !== target)
    .sort((a, b) => (b.LastModified?.getTime() ?? 0) - (a.LastModified?.getTime() ?? 0))[0];
  const read = async (key: string) => Buffer.from(await (await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.artifactsBucket, Key: key }))).Body!.transformToByteArray());
  const body = other ? await read(other.Key!) : Buffer.concat([await read(target), Buffer.from('\n')]);
  await ctx.s3.send(new PutObjectCommand({ Bucket: ctx.artifactsBucket, Key: target, Body: body }));
}

/**
 * An operator of approval.approvers (the first entry, created in the emulator's IAM) decides with the deployer
 * CLI's own code: the identity proof signed with that principal's credentials, the real approval function's logic
 * and adapters. Only its Step Functions callback is the harness: the answer resolves the waiting task.
 */
async function operatorDecides(ctx: OverrideContext, executionName: string, decision: 'approve' | 'reject'): Promise<unknown> {
  const operator = await operatorCredentials(ctx.config.approval.approvers[0]);
  const { decide: cliDecide } = require(path.join(ROOT, 'lambdas', 'shared', 'operator', 'approval')) as typeof import('../../lambdas/shared/operator/approval');
  const { signIdentityProof } = require(path.join(ROOT, 'lambdas', 'shared', 'adapters', 'identity-proof')) as typeof import('../../lambdas/shared/adapters/identity-proof');
  const fn = require(path.join(ROOT, 'lambdas', 'decide-approval', 'index')) as typeof import('../../lambdas/decide-approval/index');
  const { decide } = require(path.join(ROOT, 'lambdas', 'decide-approval', 'decide')) as typeof import('../../lambdas/decide-approval/decide');
  return new Promise((resolve, reject) => {
    const ports = {
      ...fn.ports,
      sendSuccess: async (_token: string, output: string) => resolve(JSON.parse(output)),
      sendFailure: async (_token: string, error: string, cause: string) => reject(stepError(error, cause)),
    };
    cliDecide('rehearsal-approval-function', executionName, decision, { reason: 'rehearsal decision' }, {
      signProof: (digest) => signIdentityProof(digest, { region: target.region, credentials: operator }),
      invoke: async (_name, payload) => decide(payload, fn.settings, ports),
    }).catch(reject);
  });
}

/** Credentials of the principal an approvers entry names, made in the emulator's IAM (a role is assumed). */
async function operatorCredentials(entry: string): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> {
  const { IAMClient, CreateRoleCommand, CreateUserCommand, CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
  const { STSClient, AssumeRoleCommand } = await import('@aws-sdk/client-sts');
  const [, , , , , resource] = entry.split(':');
  const [kind, ...rest] = resource.split('/');
  const concrete = (s: string) => s.replace(/\*/g, 'x');
  const iam = new IAMClient({});
  const exists = ignoreEntityExists;
  try {
    if (kind === 'user') {
      const name = concrete(rest.at(-1)!);
      await iam.send(new CreateUserCommand({ UserName: name })).catch(exists);
      const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
      return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    }
    const roleName = concrete(kind === 'assumed-role' ? rest[0] : rest.at(-1)!);
    const session = kind === 'assumed-role' ? concrete(rest[1]) : 'rehearsal-operator';
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${target.account}:root` }, Action: 'sts:AssumeRole' }] });
    await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: trust })).catch(exists);
    const sts = new STSClient({});
    try {
      const c = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${target.account}:role/${roleName}`, RoleSessionName: session }))).Credentials!;
      return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    } finally {
      sts.destroy();
    }
  } finally {
    iam.destroy();
  }
}

function buildTask(stack: ResolvedStack, ctx: OverrideContext): TaskHandler {
  return async (parameters) => {
    const id = stack.logicalIdsOfType('AWS::CodeBuild::Project').find((p) => stack.ref(p) === parameters.ProjectName);
    if (!id) throw new Error(`no CodeBuild project ${parameters.ProjectName} in the template`);
    const project = stack.resolve(stack.resources[id].Properties);
    const buildspecText: string = project.Source.BuildSpec;
    const buildId = `${parameters.ProjectName}:${randomUUID()}`;
    const buildDir = path.join(ctx.options.workDir, 'builds', buildId.replace(/[^A-Za-z0-9-]/g, '-'));
    fs.mkdirSync(path.join(buildDir, 'home'), { recursive: true });
    const buildspecPath = path.join(buildDir, 'buildspec.yml');
    fs.writeFileSync(buildspecPath, buildspecText);
    const projectEnv = Object.fromEntries((project.Environment.EnvironmentVariables as Array<{ Name: string; Value: string }>).map((v) => [v.Name, v.Value]));
    const overrides = Object.fromEntries(((parameters.EnvironmentVariablesOverride ?? []) as Array<{ Name: string; Value: string }>).map((v) => [v.Name, v.Value]));
    const verifying = buildspecText.includes('verify-step.js');
    if (verifying) {
      await pointOutputsAtStandin(ctx, overrides.GATEWAY, overrides.RUN_ID);
      // The stand-in cluster's tools: kubectl of this machine (pinned to its own version) and the helm stand-in.
      Object.assign(projectEnv, { KUBECTL_VERSION: localKubectlVersion(), ROLLOUT_POLL_SECONDS: '1' });
    }
    const result = await runBuildspec({
      buildspecPath,
      sourceDir: ctx.sourceDir,
      projectEnv,
      overrides: {
        ...overrides,
        CODEBUILD_BUILD_ID: buildId,
        // One container per build in CodeBuild; separate folders here.
        WORK_DIR: path.join(buildDir, 'work'),
        STEP_EXPORTS: path.join(buildDir, 'exports.env'),
        TF_PLUGIN_CACHE_DIR: path.join(ctx.options.workDir, 'plugin-cache'),
        HOME: path.join(buildDir, 'home'),
        KUBECACHEDIR: path.join(buildDir, 'kube-cache'),
        PATH: `${HELM_STANDIN_DIR}:${process.env.PATH}`,
        HELM_STANDIN_KUBE_URL: ctx.cluster.url,
        HELM_STANDIN_TEST_PHASE: ctx.options.connectivity === 'fail' ? 'Failed' : 'Succeeded',
        ...(ctx.options.realAwsProvider ? { TF_CLI_CONFIG_FILE: awsProviderMirrorConfig(ctx.options.workDir) } : {}),
        ...roleEnvironment(ctx.roleCredentials?.get(parameters.ProjectName)),
      },
      timeoutMs: 15 * 60_000,
    });
    fs.writeFileSync(path.join(buildDir, 'build.log'), result.log);
    const phases = result.phases.map((p) => ({ PhaseType: p.name, PhaseStatus: p.status }));
    if (result.status !== 'SUCCEEDED') {
      const build = { Id: buildId, BuildStatus: 'FAILED', Phases: phases, Logs: { GroupName: `/rehearsal/codebuild/${parameters.ProjectName}`, StreamName: buildId }, ExportedEnvironmentVariables: toList(result.exported) };
      throw stepError('States.TaskFailed', JSON.stringify({ Build: build }));
    }
    return { Build: { Id: buildId, BuildStatus: 'SUCCEEDED', Phases: phases, ExportedEnvironmentVariables: toList(result.exported) } };
  };
}

/** A build's AWS credentials: its project role's session (buildRoles), else the process's. */
function roleEnvironment(credentials: Credentials | undefined): Record<string, string> {
  if (!credentials) return {};
  return { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_SESSION_TOKEN: credentials.sessionToken ?? '' };
}

const toList = (vars: Record<string, string>) => Object.entries(vars).map(([Name, Value]) => ({ Name, Value }));


/**
 * Whatever endpoint the module outputs, the rehearsal's cluster is the stand-in: the run's Terraform outputs are
 * pointed at it before Verify reads them (only the seed's output names are assumed, not the module's internals).
 */
async function pointOutputsAtStandin(ctx: OverrideContext, gateway: string, runId: string): Promise<void> {
  for (const key of [`reports/${gateway}/${runId}/apply.json`, `plans/${gateway}/${runId}/outputs.json`]) {
    let doc: { outputs?: Record<string, unknown> };
    try {
      const out = await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.artifactsBucket, Key: key }));
      doc = JSON.parse(await out.Body!.transformToString());
    } catch {
      continue;
    }
    doc.outputs = { ...doc.outputs, endpoint: ctx.cluster.url, certificate_authority_data: ctx.cluster.caPem };
    await ctx.s3.send(new PutObjectCommand({ Bucket: ctx.artifactsBucket, Key: key, Body: JSON.stringify(doc, null, 2) }));
    return;
  }
}

async function watch(
  events: AsyncGenerator<EventLog>,
  states: StateRecord[],
  print: (line: string) => void,
  history: unknown[],
  onEnter: (name: string, input: unknown) => void = () => {},
): Promise<void> {
  const entered = new Map<string, number>();
  for await (const event of events) {
    history.push(event);
    if (!('state' in event)) continue;
    const { name, type } = event.state;
    if (event.type === 'StateEntered') {
      entered.set(name, event.timestamp);
      onEnter(name, event.state.input);
      continue;
    }
    const durationMs = event.timestamp - (entered.get(name) ?? event.timestamp);
    const outcome = ({ StateExited: 'succeeded', StateFailed: 'failed', StateCaught: 'caught', StateRetried: 'retried' } as const)[
      event.type as 'StateExited' | 'StateFailed' | 'StateCaught' | 'StateRetried'
    ];
    if (!outcome) continue;
    const record: StateRecord = { name, type, outcome, durationMs, ...('Error' in event ? { error: String(event.Error) } : {}) };
    states.push(record);
    print(`${name.padEnd(22)} ${type.padEnd(8)} ${outcome.padEnd(9)} ${String(durationMs).padStart(6)} ms${record.error ? `  ${record.error}` : ''}`);
  }
}

async function drain(queues: Map<string, string>, sqs: SQSClient): Promise<Notification[]> {
  const out: Notification[] = [];
  for (const [topic, queueUrl] of queues) {
    for (;;) {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (!got.Messages?.length) break;
      for (const m of got.Messages) {
        const body = JSON.parse(m.Body ?? '{}');
        out.push({ topic, subject: body.Subject ?? '', message: body.Message ?? '' });
        // Received is not consumed: undeleted, a message reappears after the visibility timeout in a later run.
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
      }
    }
  }
  return out;
}

/** The latest version of every object, and every table item, as files a later rehearsal restores. */
async function saveState(dir: string, buckets: string[], tables: string[], s3: S3Client): Promise<void> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
  await fs.promises.rm(dir, { recursive: true, force: true });
  for (const bucket of buckets) {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
        const file = path.join(dir, 's3', bucket, o.Key!);
        await fs.promises.mkdir(path.dirname(file), { recursive: true });
        await fs.promises.writeFile(file, Buffer.from(await out.Body!.transformToByteArray()));
      }
      token = page.NextContinuationToken;
    } while (token);
  }
  const dynamodb = new DynamoDBClient({});
  await fs.promises.mkdir(path.join(dir, 'dynamodb'), { recursive: true });
  for (const table of tables) {
    const items: unknown[] = [];
    let start: Record<string, any> | undefined;
    do {
      const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    await fs.promises.writeFile(path.join(dir, 'dynamodb', `${table}.json`), JSON.stringify(items));
  }
}

async function restoreState(dir: string, buckets: string[], tables: string[], s3: S3Client): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const { PutItemCommand } = await import('@aws-sdk/client-dynamodb');
  for (const bucket of buckets) {
    const root = path.join(dir, 's3', bucket);
    if (!fs.existsSync(root)) continue;
    for (const key of await listFiles(root)) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await fs.promises.readFile(path.join(root, key)) }));
    }
  }
  const dynamodb = new DynamoDBClient({});
  for (const table of tables) {
    const file = path.join(dir, 'dynamodb', `${table}.json`);
    if (!fs.existsSync(file)) continue;
    for (const item of JSON.parse(await fs.promises.readFile(file, 'utf-8'))) await dynamodb.send(new PutItemCommand({ TableName: table, Item: item }));
  }
}
