/**
 * The CodeBuild side of the HOWTO's "Post-install / Post-upgrade": `node verify-step.js`. It reaches the cluster
 * from the Terraform outputs (an EKS token minted in-process as `aws eks get-token` mints it, eks-token.ts), reads
 * the agent's image and rollout, runs the Helm connectivity tests, and measures how computations fill the nodes.
 * It judges nothing against the expected version: it reports, and EvaluateVerification decides.
 * Each kubectl call costs a process and the credential plugin's start-up, so the cluster is read in one
 * `kubectl get deployments,pods,nodes` and the domain code picks the agent, the computations and the nodes.
 * CLUSTER_ACTION=inspect-release | uninstall-release runs the HOWTO's FAQ on the same cluster access instead
 * (release-step.ts).
 */
import { confirmRunHoldsLock } from './run-lock';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AGENT_DEPLOYMENT_NAME,
  AGENT_LABEL,
  AGENT_NAMESPACE,
  CLUSTER_KINDS,
  CONNECTIVITY_TEST_POD,
  HELM_RELEASE,
  agentImage,
  byNameNote,
  capacityReport,
  findAgent,
  finishedTestPhase,
  hasPod,
  jobPods,
  judgeConnectivity,
  rolloutState,
  splitClusterList,
  type CapacityReport,
  type ClusterSnapshot,
  type ConnectivityVerdict,
  type DeploymentLike,
  type ImageRef,
  type KubeListItem,
  type NodeLike,
  type PodLike,
  type RolloutState,
} from '../../lambdas/shared/domain/verification';
import { mintEksToken } from './eks-token';
import { clusterActionOf, releaseContextOf, runReleaseAction } from './release-step';
import { runCommand, type CommandResult } from './run-command';
import { tokenCacheFile, writeCachedCredential, type ExecCredential } from './token-cache';
import { getBytes, putBytes, readValuesSecret, writeExports } from './workspace';

export interface VerifyContext {
  readonly bucket: string;
  readonly gateway: string;
  readonly runId: string;
  readonly region: string;
  readonly valuesSecretArn: string;
  readonly valuesSecretVersionId?: string;
  readonly workDir: string;
  readonly rolloutTimeoutSeconds: number;
  readonly pollSeconds: number;
  readonly helmTestTimeout: string;
}

export interface ClusterAccess {
  readonly clusterName: string;
  readonly endpoint: string;
  readonly certificateAuthorityData?: string;
}

export interface VerificationReport {
  readonly gateway: string;
  readonly runId: string;
  readonly checkedAt: string;
  readonly cluster: { readonly name: string; readonly endpoint: string };
  readonly agent: {
    readonly found: boolean;
    readonly foundBy: string;
    readonly deployment: string | null;
    readonly image: ImageRef | null;
    readonly rollout: RolloutState | null;
  };
  readonly connectivity: ConnectivityVerdict & { readonly logs: string };
  readonly capacity: CapacityReport | null;
}

export function verifyContextFromEnv(env: NodeJS.ProcessEnv): VerifyContext {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} is not set (the state machine passes it to the build)`);
    return value;
  };
  return {
    bucket: need('ARTIFACTS_BUCKET'),
    gateway: need('GATEWAY'),
    runId: need('RUN_ID'),
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || need('AWS_REGION'),
    valuesSecretArn: need('VALUES_SECRET_ARN'),
    valuesSecretVersionId: env.VALUES_SECRET_VERSION_ID || undefined,
    workDir: env.WORK_DIR || '/tmp/gateway-verify',
    rolloutTimeoutSeconds: Number(env.ROLLOUT_TIMEOUT_SECONDS || 600),
    pollSeconds: Number(env.ROLLOUT_POLL_SECONDS || 10),
    helmTestTimeout: env.HELM_TEST_TIMEOUT || '10m',
  };
}

/** After an apply the Apply report has the outputs; with nothing to apply, the Plan's planned outputs do. */
export async function clusterAccess(ctx: VerifyContext): Promise<ClusterAccess> {
  const candidates = [`reports/${ctx.gateway}/${ctx.runId}/apply.json`, `plans/${ctx.gateway}/${ctx.runId}/outputs.json`];
  for (const key of candidates) {
    let doc: { outputs?: Record<string, unknown> };
    try {
      doc = JSON.parse((await getBytes(ctx.bucket, key)).toString('utf-8'));
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') continue;
      throw error;
    }
    const o = doc.outputs ?? {};
    if (typeof o.cluster_name !== 'string' || typeof o.endpoint !== 'string') {
      throw new Error(`s3://${ctx.bucket}/${key} has no cluster_name and endpoint outputs; the gateway module must output them`);
    }
    return {
      clusterName: o.cluster_name,
      endpoint: o.endpoint,
      ...(typeof o.certificate_authority_data === 'string' ? { certificateAuthorityData: o.certificate_authority_data } : {}),
    };
  }
  throw new Error(`no Terraform outputs for run ${ctx.runId}: neither ${candidates.join(' nor ')} exists`);
}

/**
 * A kubeconfig whose credentials are an EKS token, as the HOWTO's cluster access (`aws eks get-token`) gives them.
 * kubectl asks for a token on every call; the plugin is kube-token.js, which prints the token this helper cached
 * (seedToken) and runs the AWS CLI only once that is near its expiry. It is a separate bundle, never imported
 * here: its `require.main === module` would be true inside this bundle too.
 */
export function kubeconfig(access: ClusterAccess, region: string, tokenCommand: { command: string; args: string[] }): object {
  const ca = access.certificateAuthorityData;
  // The module outputs the CA as PEM (the HOWTO passes it to the providers as is); kubeconfig wants base64.
  const caData = ca ? (ca.startsWith('-----BEGIN') ? Buffer.from(ca).toString('base64') : ca) : undefined;
  const tls = access.endpoint.startsWith('https://') && caData ? { 'certificate-authority-data': caData } : {};
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: access.clusterName, cluster: { server: access.endpoint, ...tls } }],
    users: [
      {
        name: 'gateway-deployer',
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: tokenCommand.command,
            args: [...tokenCommand.args, '--cluster-name', access.clusterName, '--region', region],
            interactiveMode: 'Never',
          },
        },
      },
    ],
    contexts: [{ name: access.clusterName, context: { cluster: access.clusterName, user: 'gateway-deployer', namespace: AGENT_NAMESPACE } }],
    'current-context': access.clusterName,
  };
}

type Tool = (args: string[], opts?: { raw?: boolean; echo?: boolean }) => Promise<CommandResult>;

function parseJson<T>(result: CommandResult): T | null {
  if (result.code !== 0) return null;
  try {
    return JSON.parse(result.rawStdout) as T;
  } catch {
    return null;
  }
}

/**
 * Mints the EKS token in-process and caches it where kube-token.js looks, so that no kubectl or helm call of a
 * normal build waits for the AWS CLI. On failure the plugin still has its own way: `aws eks get-token`.
 */
export async function seedToken(
  clusterName: string,
  region: string,
  cacheFile: string,
  mint: (opts: { clusterName: string; region: string }) => Promise<ExecCredential> = mintEksToken,
): Promise<boolean> {
  try {
    await writeCachedCredential(cacheFile, clusterName, await mint({ clusterName, region }), 'sdk');
    return true;
  } catch (error) {
    console.warn(`could not mint the EKS token in-process (${(error as Error).message}); kubectl's credential plugin will run aws eks get-token`);
    return false;
  }
}

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/**
 * The namespace's Deployments and pods and the cluster's nodes in one kubectl call. kubectl fails the whole list
 * when one kind fails (nodes forbidden, say); then each kind is listed on its own, so the others still count.
 */
export async function readCluster(kubectl: Tool): Promise<ClusterSnapshot> {
  const list = parseJson<{ items?: KubeListItem[] }>(await kubectl(['get', CLUSTER_KINDS, '-n', AGENT_NAMESPACE, '-o', 'json'], { raw: true }));
  if (Array.isArray(list?.items)) return splitClusterList(list.items);
  const items = async <T>(args: string[]): Promise<T[] | null> => {
    const one = parseJson<{ items?: T[] }>(await kubectl([...args, '-o', 'json'], { raw: true }));
    return Array.isArray(one?.items) ? one.items : null;
  };
  return {
    deployments: await items<DeploymentLike>(['get', 'deployments', '-n', AGENT_NAMESPACE]),
    pods: await items<PodLike>(['get', 'pods', '-n', AGENT_NAMESPACE]),
    nodes: await items<NodeLike>(['get', 'nodes']),
  };
}

export async function verify(ctx: VerifyContext, kubectl: Tool, helm: Tool, access: ClusterAccess): Promise<VerificationReport> {
  let cluster = await readCluster(kubectl);

  // The HOWTO's agent check, read as JSON: by label first, then the likely name.
  let deployment: DeploymentLike | null;
  let foundBy: string;
  if (cluster.deployments) {
    ({ deployment, foundBy } = findAgent(cluster.deployments));
  } else {
    deployment = parseJson<DeploymentLike>(await kubectl(['get', 'deployment', AGENT_DEPLOYMENT_NAME, '-n', AGENT_NAMESPACE, '-o', 'json'], { raw: true }));
    foundBy = byNameNote(`the Deployments in ${AGENT_NAMESPACE} could not be listed, so the label ${AGENT_LABEL} was not checked`, deployment !== null);
  }

  // Rollout: polled inside this build (not by the state machine) until ready or the timeout.
  let rollout: RolloutState | null = deployment ? rolloutState(deployment) : null;
  const deadline = Date.now() + ctx.rolloutTimeoutSeconds * 1000;
  let waited = false;
  while (deployment && rollout && !rollout.ready && Date.now() < deadline) {
    waited = true;
    await sleep(ctx.pollSeconds);
    const fresh = parseJson<DeploymentLike>(await kubectl(['get', 'deployment', deployment.metadata.name, '-n', AGENT_NAMESPACE, '-o', 'json'], { raw: true }));
    if (fresh) {
      deployment = fresh;
      rollout = rolloutState(fresh);
    }
  }

  // After a wait (minutes, perhaps) the pods and nodes are listed again, as they are when `helm test` starts.
  if (waited) cluster = await readCluster(kubectl);

  // A test pod left by an earlier run would make `helm test` fail with "already exists".
  if (cluster.pods === null || hasPod(cluster.pods, CONNECTIVITY_TEST_POD)) {
    await kubectl(['delete', 'pod', CONNECTIVITY_TEST_POD, '-n', AGENT_NAMESPACE, '--ignore-not-found', '--wait=true']);
  }
  const test = await helm(['test', HELM_RELEASE, '-n', AGENT_NAMESPACE, '--timeout', ctx.helmTestTimeout, '--logs']);
  // helm prints the test pod's final phase; the pod is read only when it did not (helm's exit-code races).
  const helmPhase = finishedTestPhase(test.output);
  const pod = helmPhase ? null : parseJson<PodLike>(await kubectl(['get', 'pod', CONNECTIVITY_TEST_POD, '-n', AGENT_NAMESPACE, '-o', 'json'], { raw: true }));
  let logs = test.output.includes('POD LOGS:') ? test.output.slice(test.output.indexOf('POD LOGS:')) : '';
  if (!logs && (helmPhase || pod)) logs = (await kubectl(['logs', CONNECTIVITY_TEST_POD, '-n', AGENT_NAMESPACE])).output;
  const connectivity = judgeConnectivity({ helmExitCode: test.code, helmOutput: test.output, podPhase: pod?.status?.phase ?? helmPhase });

  return {
    gateway: ctx.gateway,
    runId: ctx.runId,
    checkedAt: new Date().toISOString(),
    cluster: { name: access.clusterName, endpoint: access.endpoint },
    agent: {
      found: deployment !== null,
      foundBy,
      deployment: deployment?.metadata.name ?? null,
      image: deployment ? agentImage(deployment) : null,
      rollout,
    },
    connectivity: { ...connectivity, logs: logs.slice(-20_000) },
    // The HOWTO's "Scaling": computations are the pods labelled apheris_job_id.
    capacity: cluster.pods && cluster.nodes ? capacityReport(jobPods(cluster.pods), cluster.nodes) : null,
  };
}

export function verificationExports(report: VerificationReport, key: string): Record<string, string> {
  return {
    STEP_STATUS: 'succeeded',
    VERIFICATION_REPORT_KEY: key,
    AGENT_FOUND: String(report.agent.found),
    AGENT_DEPLOYMENT: report.agent.deployment ?? '',
    AGENT_IMAGE: report.agent.image?.image ?? '',
    AGENT_VERSION: report.agent.image?.tag ?? '',
    AGENT_DIGEST: report.agent.image?.digest ?? '',
    ROLLOUT_READY: String(report.agent.rollout?.ready ?? false),
    ROLLOUT_DETAIL: report.agent.rollout?.detail ?? report.agent.foundBy,
    CONNECTIVITY: report.connectivity.result,
    CONNECTIVITY_DETAIL: report.connectivity.detail,
  };
}

async function main(): Promise<number> {
  const ctx = verifyContextFromEnv(process.env);
  const exportsFile = process.env.STEP_EXPORTS || path.join(path.dirname(path.resolve(ctx.workDir)), 'step-exports.env');
  try {
    // verify (default), or the HOWTO's FAQ as operations: inspect-release, uninstall-release (release-step.ts).
    const action = clusterActionOf(process.env.CLUSTER_ACTION);
    await confirmRunHoldsLock(process.env);
    await fs.promises.mkdir(ctx.workDir, { recursive: true, mode: 0o700 });
    const { secrets } = await readValuesSecret(ctx.valuesSecretArn, ctx.valuesSecretVersionId);
    const connect = async (access: ClusterAccess) => {
      const kubeconfigFile = path.join(ctx.workDir, 'kubeconfig');
      const tokenCommand = { command: process.execPath, args: [path.join(path.dirname(path.resolve(process.argv[1])), 'kube-token.js'), 'token'] };
      await fs.promises.writeFile(kubeconfigFile, JSON.stringify(kubeconfig(access, ctx.region, tokenCommand), null, 2), { mode: 0o600 });
      await seedToken(access.clusterName, ctx.region, tokenCacheFile(ctx.workDir));
      const env = { ...process.env, KUBECONFIG: kubeconfigFile, WORK_DIR: ctx.workDir };
      const tool = (bin: string): Tool => (args, opts = {}) => {
        console.log(`$ ${path.basename(bin)} ${args.join(' ')}`);
        return runCommand({ bin, args, env, secrets, echo: opts.echo, captureRawStdout: opts.raw });
      };
      return { kubectl: tool(process.env.KUBECTL_BIN || 'kubectl'), helm: tool(process.env.HELM_BIN || 'helm') };
    };
    if (action !== 'verify') {
      const result = await runReleaseAction(action, releaseContextOf(ctx, process.env), { connect, secrets });
      await writeExports(exportsFile, result.exports);
      return result.code;
    }
    const access = await clusterAccess(ctx);
    const { kubectl, helm } = await connect(access);
    const report = await verify(ctx, kubectl, helm, access);
    const key = `reports/${ctx.gateway}/${ctx.runId}/verification.json`;
    await putBytes(ctx.bucket, key, JSON.stringify(report, null, 2), 'application/json');
    await writeExports(exportsFile, verificationExports(report, key));
    console.log(`agent ${report.agent.image?.image ?? 'not found'}; rollout ${report.agent.rollout?.detail ?? '-'}; connectivity ${report.connectivity.result}`);
    return 0;
  } catch (error) {
    console.error(`${(error as Error).name}: ${(error as Error).message}`);
    await writeExports(exportsFile, { STEP_STATUS: 'failed', FAILURE_CLASS: 'setup', FAILURE_MESSAGE: (error as Error).message.slice(0, 500) });
    return 1;
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
