/**
 * The CodeBuild side of the seed's "Post-install / Post-upgrade": `node verify-step.js`. It reaches the cluster
 * from the Terraform outputs (token from `aws eks get-token`), reads the agent's image and rollout, runs the
 * Helm connectivity tests, and measures how computations fill the nodes. It judges nothing against the
 * expected version: it reports, and EvaluateVerification decides.
 * CLUSTER_ACTION=inspect-release | uninstall-release runs the seed's FAQ on the same cluster access instead
 * (release-step.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AGENT_DEPLOYMENT_NAME,
  AGENT_LABEL,
  AGENT_NAMESPACE,
  CONNECTIVITY_TEST_POD,
  HELM_RELEASE,
  JOB_LABEL,
  agentImage,
  capacityReport,
  judgeConnectivity,
  pickLabelledAgent,
  rolloutState,
  type CapacityReport,
  type ConnectivityVerdict,
  type DeploymentLike,
  type ImageRef,
  type NodeLike,
  type PodLike,
  type RolloutState,
} from '../../lambdas/shared/domain/verification';
import { clusterActionOf, releaseContextOf, runReleaseAction } from './release-step';
import { runCommand, type CommandResult } from './run-command';
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
 * A kubeconfig whose credentials come from `aws eks get-token`, as the seed's cluster access does. kubectl asks
 * for a token on every call; the plugin is kube-token.js, which runs the AWS CLI once and reuses the token while
 * it is valid (the CLI's start-up would otherwise cost most of each kubectl call). It is a separate bundle, never
 * imported here: its `require.main === module` would be true inside this bundle too.
 */
export function kubeconfig(access: ClusterAccess, region: string, tokenCommand: { command: string; args: string[] }): object {
  const ca = access.certificateAuthorityData;
  // The module outputs the CA as PEM (the seed passes it to the providers as is); kubeconfig wants base64.
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

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

export async function verify(ctx: VerifyContext, kubectl: Tool, helm: Tool, access: ClusterAccess): Promise<VerificationReport> {
  // The seed's agent check, read as JSON: by label first, then the likely name.
  const labelled = parseJson<{ items: DeploymentLike[] }>(
    await kubectl(['get', 'deployment', '-l', AGENT_LABEL, '-n', AGENT_NAMESPACE, '-o', 'json'], { raw: true }),
  );
  const pick = pickLabelledAgent(labelled?.items ?? []);
  let deployment = pick.deployment;
  let foundBy = labelled ? pick.why : `the label query for ${AGENT_LABEL} failed`;
  if (!deployment) {
    deployment = parseJson<DeploymentLike>(await kubectl(['get', 'deployment', AGENT_DEPLOYMENT_NAME, '-n', AGENT_NAMESPACE, '-o', 'json'], { raw: true }));
    foundBy = deployment ? `${foundBy}; found by name ${AGENT_DEPLOYMENT_NAME}` : `${foundBy}; no Deployment named ${AGENT_DEPLOYMENT_NAME} either`;
  }

  // Rollout: polled inside this build (not by the state machine) until ready or the timeout.
  let rollout: RolloutState | null = deployment ? rolloutState(deployment) : null;
  const deadline = Date.now() + ctx.rolloutTimeoutSeconds * 1000;
  while (deployment && rollout && !rollout.ready && Date.now() < deadline) {
    await sleep(ctx.pollSeconds);
    const fresh = parseJson<DeploymentLike>(await kubectl(['get', 'deployment', deployment.metadata.name, '-n', AGENT_NAMESPACE, '-o', 'json'], { raw: true }));
    if (fresh) {
      deployment = fresh;
      rollout = rolloutState(fresh);
    }
  }

  // A test pod left by an earlier run would make `helm test` fail with "already exists".
  await kubectl(['delete', 'pod', CONNECTIVITY_TEST_POD, '-n', AGENT_NAMESPACE, '--ignore-not-found', '--wait=true']);
  const test = await helm(['test', HELM_RELEASE, '-n', AGENT_NAMESPACE, '--timeout', ctx.helmTestTimeout, '--logs']);
  const pod = parseJson<PodLike>(await kubectl(['get', 'pod', CONNECTIVITY_TEST_POD, '-n', AGENT_NAMESPACE, '-o', 'json'], { raw: true }));
  let logs = test.output.includes('POD LOGS:') ? test.output.slice(test.output.indexOf('POD LOGS:')) : '';
  if (!logs && pod) logs = (await kubectl(['logs', CONNECTIVITY_TEST_POD, '-n', AGENT_NAMESPACE])).output;
  const connectivity = judgeConnectivity({ helmExitCode: test.code, helmOutput: test.output, podPhase: pod?.status?.phase ?? null });

  // The seed's "Scaling": computations are the pods labelled apheris_job_id.
  const jobs = parseJson<{ items: PodLike[] }>(await kubectl(['get', 'pods', '-n', AGENT_NAMESPACE, '-l', JOB_LABEL, '-o', 'json'], { raw: true }));
  const nodes = parseJson<{ items: NodeLike[] }>(await kubectl(['get', 'nodes', '-o', 'json'], { raw: true }));

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
    capacity: jobs && nodes ? capacityReport(jobs.items, nodes.items) : null,
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
    // verify (default), or the seed's FAQ as operations: inspect-release, uninstall-release (release-step.ts).
    const action = clusterActionOf(process.env.CLUSTER_ACTION);
    await fs.promises.mkdir(ctx.workDir, { recursive: true, mode: 0o700 });
    const { secrets } = await readValuesSecret(ctx.valuesSecretArn, ctx.valuesSecretVersionId);
    const connect = async (access: ClusterAccess) => {
      const kubeconfigFile = path.join(ctx.workDir, 'kubeconfig');
      const tokenCommand = { command: process.execPath, args: [path.join(path.dirname(path.resolve(process.argv[1])), 'kube-token.js'), 'token'] };
      await fs.promises.writeFile(kubeconfigFile, JSON.stringify(kubeconfig(access, ctx.region, tokenCommand), null, 2), { mode: 0o600 });
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
