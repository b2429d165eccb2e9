import { inspectBundle } from '../shared/adapters/zip-reader';
import { BundleError, IdentityError, ValuesError } from '../shared/domain/errors';
import { resolveExecutionInput } from '../shared/domain/execution-input';
import { parseConfigJson } from '../shared/domain/gateway-config';
import { parseValues } from '../shared/domain/values';
import { decideVersionChange, type VersionChange } from '../shared/domain/versions';

/**
 * The seed's Prerequisites and Deliverables as checks, in order from cheapest to dearest. Every check only
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
  /** The object's bytes at exactly the given version, so the checked bundle is the one later steps fetch. */
  getArtifact(key: string, versionId?: string): Promise<Buffer>;
  /** The values secret's current version, or null when there is no such secret. */
  getValuesSecret(name: string): Promise<SecretText | null>;
  /** The last version recorded as deployed for the gateway, or null for a first install. */
  deployedVersion(gateway: string): Promise<string | null>;
}

export interface PreflightEvent {
  /** The execution input as the operator typed it. */
  readonly input: unknown;
  /** The gateway configuration as a JSON string, synthesized into the state machine. */
  readonly config: string;
}

export interface PreflightResult {
  readonly gateway: string;
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
}

export async function runPreflight(event: PreflightEvent, ports: PreflightPorts, artifactsBucket: string): Promise<PreflightResult> {
  const config = parseConfigJson(event.config);
  const input = resolveExecutionInput(event.input, config.bundle.releasesPrefix);

  const caller = await ports.callerIdentity();
  checkIdentity(caller, config.target.account);

  // One table read decides whether the version may be deployed at all, before the bundle is downloaded.
  const deployed = await ports.deployedVersion(config.gatewayName);
  const decision = decideVersionChange(input.version, deployed, input);

  const bundleName = input.bundleKey.slice(input.bundleKey.lastIndexOf('/') + 1);
  const head = await ports.headArtifact(input.bundleKey);
  if (!head) {
    throw new BundleError(`bundle s3://${artifactsBucket}/${input.bundleKey} not found; upload ${bundleName} from the vendor there`);
  }
  if (head.sizeBytes > config.bundle.maxBytes) {
    throw new BundleError(`${bundleName} is ${head.sizeBytes} bytes, over the limit of ${config.bundle.maxBytes} (bundle.maxBytes)`);
  }
  const inspection = await inspectBundle(bundleName, await ports.getArtifact(input.bundleKey, head.versionId), config.bundle);
  if (input.bundleSha256 !== undefined && input.bundleSha256 !== inspection.sha256) {
    throw new BundleError(`${bundleName} has sha256 ${inspection.sha256}, not the ${input.bundleSha256} given in the input`);
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
    gateway: config.gatewayName,
    version: input.version,
    change: decision.change,
    previousVersion: decision.from,
    bundle: {
      bucket: artifactsBucket,
      key: input.bundleKey,
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
  };
}

/** The seed: the account must match the target, and the root user must not deploy. */
export function checkIdentity(caller: CallerIdentity, targetAccount: string): void {
  if (caller.account !== targetAccount) {
    throw new IdentityError(`running in AWS account ${caller.account}, but the gateway config targets account ${targetAccount}`);
  }
  if (/:root$/.test(caller.arn)) {
    throw new IdentityError(`the deployment runs as the root user (${caller.arn}); use an IAM role, as the HOWTO recommends`);
  }
}
