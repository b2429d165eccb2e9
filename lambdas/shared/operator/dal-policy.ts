import { dalAccessOf, MERGE_CAVEAT, policyFile, policyJson, putBucketPolicyCommand, type DalBucketPolicy } from '../domain/dal-access';
import { explainAwsError, OperatorError, type Target } from './cli-commands';
import { discover, type OperatorAws } from './commands';
import type { DeployedView } from './status';

/**
 * `npx gateway-deployer dal-policy`: the HOWTO's bucket policies for the external data buckets of the deployed
 * gateway, again. The deployed run is the CURRENT item's execution; its build stored the policies (dal-access.ts) in
 * its Apply report, reports/<gateway>/<run>/apply.json, or, when that run had nothing to apply, in its Plan's
 * plans/<gateway>/<run>/outputs.json. They are printed as stored, never made again here.
 */

/** The artifacts bucket's objects (adapters/operator-aws.ts). */
export interface ArtifactReader {
  /** The object's body as text; null when there is no such key. */
  readObject(bucket: string, key: string): Promise<string | null>;
}

export type DalPolicyPorts = Pick<OperatorAws, 'region' | 'stackOutputs' | 'readDeployed'> & ArtifactReader & { print(line: string): void };

export interface DalPolicyOptions {
  readonly json?: boolean;
  /** Only this bucket; in text, only its policy JSON (the file put-bucket-policy reads). */
  readonly bucket?: string;
}

/** What `--output json` prints. */
export interface DalPolicyResult {
  readonly dalRoleArn: string | null;
  readonly buckets: readonly DalBucketPolicy[];
}

async function aws<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw explainAwsError(error);
  }
}

const runOf = (executionArn: string) => executionArn.slice(executionArn.lastIndexOf(':') + 1);

/** The stored report of the deployed run: the Apply report, else the Plan's outputs. */
async function deployedReport(bucket: string, gateway: string, run: string, ports: DalPolicyPorts): Promise<{ url: string; doc: unknown }> {
  const keys = [`reports/${gateway}/${run}/apply.json`, `plans/${gateway}/${run}/outputs.json`];
  const denied: string[] = [];
  for (const key of keys) {
    let text: string | null;
    try {
      text = await aws(() => ports.readObject(bucket, key));
    } catch (error) {
      // Without s3:ListBucket, S3 answers a missing key with AccessDenied: try the next one before saying so.
      if (/AccessDenied|Forbidden/i.test((error as Error).name ?? '')) {
        denied.push(`s3://${bucket}/${key}`);
        continue;
      }
      throw error;
    }
    if (text === null) continue;
    try {
      return { url: `s3://${bucket}/${key}`, doc: JSON.parse(text) };
    } catch {
      throw new OperatorError(`s3://${bucket}/${key} is not JSON: it was not written by the deployer's builds`, 1);
    }
  }
  if (denied.length > 0) {
    throw new OperatorError(
      `not allowed to read ${denied.join(' or ')}: reading the deployed gateway's reports needs s3:GetObject on the artifacts bucket's reports/ and plans/*/outputs.json, and kms:Decrypt on the stack's key`,
      2,
    );
  }
  throw new OperatorError(
    `no Terraform outputs are stored for run ${run}, which deployed gateway ${gateway}: neither ${keys.map((k) => `s3://${bucket}/${k}`).join(' nor ')} exists`,
    1,
  );
}

/** The text output: the role, the caveat, then per bucket the command and the policy JSON. */
export function formatDalPolicies(gateway: string, deployed: DeployedView, sourceUrl: string, result: DalPolicyResult): string[] {
  const lines = [
    `Gateway ${gateway} (${deployed.version}, deployed by run ${runOf(deployed.executionArn ?? '')}): DAL role ${result.dalRoleArn}`,
    `The HOWTO's "Enabling access to external AWS S3 buckets": attach each policy below to its bucket.`,
    ...MERGE_CAVEAT,
    `Stored by the deployment's build in ${sourceUrl}.`,
  ];
  for (const { bucket, policy } of result.buckets) {
    lines.push(
      '',
      `Bucket ${bucket}: ${putBucketPolicyCommand(bucket)}`,
      `(this command with --bucket ${bucket} > ${policyFile(bucket)} writes that file)`,
      policyJson(policy),
    );
  }
  return lines;
}

export async function runDalPolicy(target: Target, options: DalPolicyOptions, ports: DalPolicyPorts): Promise<DalPolicyResult> {
  const { outputs } = await discover(target, ports, ['ArtifactsBucketName', 'DeploymentsTableName']);
  const deployed = await aws(() => ports.readDeployed(outputs.DeploymentsTableName, target.gateway));
  if (!deployed) {
    throw new OperatorError(
      `gateway ${target.gateway} is not deployed yet (no deployment recorded in ${outputs.DeploymentsTableName}): its DAL role and bucket policies exist after the first install`,
      1,
    );
  }
  if (!deployed.executionArn) throw new OperatorError(`the deployment record of gateway ${target.gateway} (${deployed.version}) names no run: redeploy it to store its outputs`, 1);
  const run = runOf(deployed.executionArn);
  const report = await deployedReport(outputs.ArtifactsBucketName, target.gateway, run, ports);
  const access = dalAccessOf(report.doc);
  if (!access) {
    throw new OperatorError(
      `${report.url} says nothing about the external data buckets: an older deployer wrote it. Redeploy the deployed version to store them: ` +
        `npx gateway-deployer start --version ${deployed.version} --allow-redeploy --reason "store the DAL bucket policies"`,
      1,
    );
  }
  if (access.kind === 'unavailable') throw new OperatorError(`no bucket policy for the external data buckets ${access.buckets.join(', ')} of gateway ${target.gateway}: ${access.reason} (${report.url})`, 1);
  if (access.kind === 'no-buckets') {
    const none: DalPolicyResult = { dalRoleArn: access.dalRoleArn, buckets: [] };
    ports.print(options.json ? JSON.stringify(none, null, 2) : `Gateway ${target.gateway} has no external data buckets (module.additional_data_buckets is empty): no bucket policy to attach.`);
    return none;
  }
  let buckets = access.buckets;
  if (options.bucket !== undefined) {
    buckets = buckets.filter((b) => b.bucket === options.bucket);
    if (buckets.length === 0) {
      throw new OperatorError(`${options.bucket} is not an external data bucket of the deployed gateway ${target.gateway} (its buckets: ${access.buckets.map((b) => b.bucket).join(', ')})`, 1);
    }
  }
  const result: DalPolicyResult = { dalRoleArn: access.dalRoleArn, buckets };
  if (options.json) ports.print(JSON.stringify(result, null, 2));
  else if (options.bucket !== undefined) ports.print(policyJson(buckets[0].policy));
  else for (const line of formatDalPolicies(target.gateway, deployed, report.url, result)) ports.print(line);
  return result;
}
