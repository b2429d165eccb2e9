import { inspectBundle } from '../shared/adapters/zip-reader';
import { gpuSchedulingWarnings } from '../shared/domain/node-pools';
import { BundleError, IdentityError, TriggerNotProven, ValuesError } from '../shared/domain/errors';
import { resolveExecutionInput, type Operation } from '../shared/domain/execution-input';
import { parseConfigJson, type GatewayConfig } from '../shared/domain/gateway-config';
import { checkNodeSubnets, type SubnetFacts } from '../shared/domain/subnets';
import { VERIFIED } from '../shared/domain/history';
import { parseValues } from '../shared/domain/values';
import { bundleKeyFor, decideDeployedVersion, decideVersionChange, type VersionChange, type VersionDecision } from '../shared/domain/versions';

/**
 * The HOWTO's Prerequisites and Deliverables as checks, in order from cheapest to dearest. Every check only
 * reads; a refused run has changed nothing. What it returns travels through the execution history, so it holds
 * names, versions and digests, never a value of the values secret.
 */

export interface CallerIdentity {
  readonly account: string;
  readonly arn: string;
}

export interface StoredObject {
  readonly sizeBytes: number;
  readonly versionId?: string;
}

export interface SecretText {
  readonly text: string | undefined;
  readonly arn: string;
  readonly versionId: string;
}

/** What Preflight reads from AWS; the handler supplies SDK-backed implementations, unit tests fakes. */
export interface PreflightPorts {
  callerIdentity(): Promise<CallerIdentity>;
  /** Size and version of an object in the artifacts bucket, or null when it does not exist. */
  headArtifact(key: string): Promise<StoredObject | null>;
  /**
   * The object's bytes at exactly the given version, so the checked bundle is the one later steps fetch; read as a
   * stream that stops after maxBytes + 1 bytes, so an object larger than its HEAD said is never held whole.
   */
  getArtifact(key: string, versionId: string | undefined, maxBytes: number): Promise<Buffer>;
  /** The values secret's current version, or null when there is no such secret. */
  getValuesSecret(name: string): Promise<SecretText | null>;
  /** The last version recorded as deployed for the gateway (the CURRENT item), or null for a first install. */
  deployment(gateway: string): Promise<DeployedGateway | null>;
  /** The subnets among `ids` that exist in the account and region (missing ones are left out). */
  describeSubnets(ids: readonly string[]): Promise<SubnetFacts[]>;
  /** The release trigger's proof for this execution (see adapters/trigger-proof.ts), or null. */
  triggerProof(executionName: string): Promise<{ readonly bundleKey: string; readonly versionId?: string } | null>;
}

export interface DeployedGateway {
  readonly version: string;
  /** The sha256 of the bundle that was deployed, when it was recorded. */
  readonly bundleSha256?: string;
  /** "verified", or "not verified: …" when the run that applied it failed afterwards (see domain/history.ts). */
  readonly verification?: string;
}

export interface PreflightEvent {
  /** The execution input as the operator typed it. */
  readonly input: unknown;
  /** The gateway configuration as a JSON string, synthesized into the state machine. */
  readonly config: string;
  /** This execution's name: a run marked "trigger": "s3" must have the release trigger's proof under it. */
  readonly executionName?: string;
}

export interface PreflightResult {
  /** What the run does: deploy (the default), detach-vpc or drift-check. */
  readonly operation: Operation;
  readonly gateway: string;
  /** The version the run works with: the requested one for a deploy, the deployed one otherwise. */
  readonly version: string;
  readonly change: VersionChange;
  readonly previousVersion: string | null;
  readonly bundle: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId: string;
    readonly sha256: string;
    readonly sizeBytes: number;
    readonly entryCount: number;
  };
  /** The secret version that was checked; later steps read exactly this version. */
  readonly values: { readonly secretArn: string; readonly versionId: string };
  readonly customGatewayTf?: { readonly key: string; readonly versionId?: string };
  readonly caller: CallerIdentity;
  readonly expectedAgentVersion?: string;
  readonly trigger: string;
  readonly reason?: string;
  /** What the operator should know but that does not stop the run (for the notifications); always present. */
  readonly warnings: string[];
}

/** The release trigger's proof for a run marked "trigger": "s3", for the bundle the input names. */
async function checkUploadProof(bundleKey: string | undefined, executionName: string | undefined, ports: PreflightPorts) {
  const proof = executionName ? await ports.triggerProof(executionName) : null;
  if (!proof) {
    throw new TriggerNotProven(
      `execution input is invalid:\n- trigger: "s3" is set only by the release trigger when a bundle lands in S3, and it did not start execution ${executionName ?? '(unnamed)'}; leave "trigger" out to start a run by hand`,
    );
  }
  if (proof.bundleKey !== bundleKey) {
    throw new TriggerNotProven(`the release trigger started execution ${executionName} for ${proof.bundleKey}, not ${bundleKey ?? 'this input'}; nothing was done`);
  }
  return proof;
}

export async function runPreflight(event: PreflightEvent, ports: PreflightPorts, artifactsBucket: string): Promise<PreflightResult> {
  const config = parseConfigJson(event.config);
  const input = resolveExecutionInput(event.input, config.bundle.releasesPrefix);

  // Only the release trigger marks a run as an upload (which auto-approval may let through): it proves it.
  const proof = input.trigger === 's3' ? await checkUploadProof(input.bundleKey, event.executionName, ports) : null;

  const caller = await ports.callerIdentity();
  checkIdentity(caller, config.target.account);

  // One table read decides whether the version may be deployed at all, before the bundle is downloaded.
  const deployed = await ports.deployment(config.gatewayName);
  let decision: VersionDecision;
  let bundleKey: string;
  if (input.operation === 'deploy') {
    decision = decideVersionChange(input.version, deployed?.version ?? null, input);
    bundleKey = input.bundleKey;
  } else {
    // detach-vpc and drift-check: the deployed version, with the bundle it was deployed from.
    decision = decideDeployedVersion(input.operation, config.gatewayName, input.version, deployed?.version ?? null);
    bundleKey = input.bundleKey ?? bundleKeyFor(decision.to, config.bundle.releasesPrefix);
  }

  const warnings: string[] = [];
  if (deployed?.verification && deployed.verification !== VERIFIED) {
    warnings.push(`the deployed ${deployed.version} was applied but is ${deployed.verification}; this run compares against it`);
  }
  // Only a run whose config has create_vpc = false uses the operator's subnets; otherwise the module makes its own.
  if (config.module.create_vpc === false) {
    const subnetIds = config.module.node_subnet_ids ?? [];
    const found = await ports.describeSubnets(subnetIds);
    const check = checkNodeSubnets({ vpcId: config.module.vpc_id ?? '', subnetIds }, found, config.vpcReuse.minFreeSubnetAddresses);
    warnings.push(...check.warnings);
  }
  warnings.push(...operationWarnings(input.operation, config));
  warnings.push(
    ...gpuSchedulingWarnings({
      enableNvidiaGpu: config.module.enable_nvidia_gpu,
      pools: config.module.karpenter_node_pools ?? {},
      ...(config.helmValues.nodePoolMapping ? { nodePoolMapping: config.helmValues.nodePoolMapping } : {}),
    }),
  );

  const bundleName = bundleKey.slice(bundleKey.lastIndexOf('/') + 1);
  const head = await ports.headArtifact(bundleKey);
  if (!head) {
    throw new BundleError(`bundle s3://${artifactsBucket}/${bundleKey} not found; upload ${bundleName} from the vendor there`);
  }
  if (proof?.versionId && head.versionId !== proof.versionId) {
    throw new TriggerNotProven(`${bundleName} was overwritten after the upload that started this run (version ${head.versionId ?? 'none'}, uploaded ${proof.versionId}); nothing was done`);
  }
  if (head.sizeBytes > config.bundle.maxBytes) {
    throw new BundleError(`${bundleName} is ${head.sizeBytes} bytes, over the limit of ${config.bundle.maxBytes} (bundle.maxBytes)`);
  }
  const zip = await ports.getArtifact(bundleKey, head.versionId, config.bundle.maxBytes);
  if (zip.length > config.bundle.maxBytes) {
    throw new BundleError(`${bundleName} is more than ${config.bundle.maxBytes} bytes (bundle.maxBytes), though S3 reported ${head.sizeBytes}`);
  }
  // The central directory, then every entry inflated and counted against the limits (never held).
  const inspection = await inspectBundle(bundleName, zip, config.bundle);
  if (input.bundleSha256 !== undefined && input.bundleSha256 !== inspection.sha256) {
    throw new BundleError(`${bundleName} has sha256 ${inspection.sha256}, not the ${input.bundleSha256} given in the input`);
  }
  // A run on the deployed version must use the bundle that was deployed: a drift check against other module
  // code would report its differences as drift.
  if (input.operation !== 'deploy' && deployed?.bundleSha256 && deployed.bundleSha256 !== inspection.sha256) {
    throw new BundleError(
      `${bundleName} has sha256 ${inspection.sha256}, not the ${deployed.bundleSha256} deployed as ${decision.to}; ` +
        'restore the deployed upload (the bucket keeps earlier versions of the object) and start a new run',
    );
  }

  const secret = await ports.getValuesSecret(config.valuesSecretName);
  if (!secret) {
    throw new ValuesError(`values secret "${config.valuesSecretName}" (valuesSecretName) not found in Secrets Manager; store the values.yaml from the Bitwarden link there`);
  }
  parseValues(secret.text, config.valuesSecretName);

  let customGatewayTf: PreflightResult['customGatewayTf'];
  if (config.customGatewayTfKey !== undefined) {
    const custom = await ports.headArtifact(config.customGatewayTfKey);
    if (!custom) {
      throw new BundleError(`customized gateway.tf s3://${artifactsBucket}/${config.customGatewayTfKey} (customGatewayTfKey) not found`);
    }
    customGatewayTf = { key: config.customGatewayTfKey, ...(custom.versionId ? { versionId: custom.versionId } : {}) };
  }

  return {
    operation: input.operation,
    gateway: config.gatewayName,
    version: decision.to,
    change: decision.change,
    previousVersion: decision.from,
    bundle: {
      bucket: artifactsBucket,
      key: bundleKey,
      // Always present ('' for an unversioned bucket): the Plan and Apply states pass it on as it is.
      versionId: head.versionId ?? '',
      sha256: inspection.sha256,
      sizeBytes: inspection.sizeBytes,
      entryCount: inspection.entryCount,
    },
    values: { secretArn: secret.arn, versionId: secret.versionId },
    ...(customGatewayTf ? { customGatewayTf } : {}),
    caller,
    ...(input.expectedAgentVersion ? { expectedAgentVersion: input.expectedAgentVersion } : {}),
    trigger: input.trigger,
    ...(input.reason ? { reason: input.reason } : {}),
    warnings,
  };
}

/**
 * detach-vpc is not refused for either value of module.create_vpc, because the Terraform state, not the
 * config, decides what there is to detach (an empty list ends the run with nothing to approve):
 * - create_vpc still true (the order the HOWTO's FAQ implies): detach first, then switch the config to
 *   create_vpc = false with vpc_id and node_subnet_ids of the detached VPC, and deploy. Until the switch, a
 *   deploy would plan a new VPC, so the operator is told.
 * - create_vpc already false: the next deploy would plan to DESTROY every module.vpc resource still in the
 *   state; detaching them first is exactly what makes the switch safe.
 */
export function operationWarnings(operation: Operation, config: GatewayConfig): string[] {
  if (operation === 'detach-vpc' && config.module.create_vpc !== false) {
    return [
      'module.create_vpc is still true: after detach-vpc, set create_vpc = false with vpc_id and node_subnet_ids of the ' +
        'detached VPC and redeploy the stack before the next deploy, or that deploy will plan a new VPC',
    ];
  }
  return [];
}

/** The HOWTO: the account must match the target, and the root user must not deploy. */
export function checkIdentity(caller: CallerIdentity, targetAccount: string): void {
  if (caller.account !== targetAccount) {
    throw new IdentityError(`running in AWS account ${caller.account}, but the gateway config targets account ${targetAccount}`);
  }
  if (/:root$/.test(caller.arn)) {
    throw new IdentityError(`the deployment runs as the root user (${caller.arn}); use an IAM role, as the HOWTO recommends`);
  }
}
