import { createHash } from 'node:crypto';
import compare from 'semver/functions/compare';
import major from 'semver/functions/major';
import prerelease from 'semver/functions/prerelease';
import valid from 'semver/functions/valid';
import { versionFromBundleKey } from './versions';

/**
 * A new gateway-<version>.zip under the releases prefix starts an upgrade by itself; anything else that lands
 * there does not. The execution name is derived from the object, so a repeated event or a re-upload of the same
 * object cannot start a second run: Step Functions refuses a name it has seen.
 *
 * Not everything newer starts: a pre-release only when the config allows it, and a version more than
 * `maxMajorStep` majors above the deployed one waits for an operator (a mistaken gateway-999.0.0.zip, once
 * deployed, would make every real release a "downgrade"). The uploader may attach what the vendor communicated
 * as object metadata, and the run then checks it: `expected-agent-version` and `sha256`.
 */

/** The partition prefix of the trigger's proofs (`TRIGGER#<execution>`), which only the release trigger may write. */
export const TRIGGER_PARTITION_PREFIX = 'TRIGGER#';

/** S3 user metadata (x-amz-meta-<name>) the run takes from the upload. */
export const METADATA_EXPECTED_AGENT_VERSION = 'expected-agent-version';
export const METADATA_SHA256 = 'sha256';

export interface ObjectCreated {
  readonly key: string;
  readonly versionId?: string;
  readonly etag?: string;
  /** The object's user metadata (lower-case names, without x-amz-meta-), read with HeadObject. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface TriggerPolicy {
  readonly releasesPrefix: string;
  readonly gateway: string;
  readonly allowPrereleases: boolean;
  readonly maxMajorStep: number;
}

export interface TriggerInput {
  readonly bundleKey: string;
  readonly trigger: 's3';
  readonly reason: string;
  readonly expectedAgentVersion?: string;
  readonly bundleSha256?: string;
}

export type TriggerDecision =
  | { readonly action: 'ignore'; readonly reason: string }
  | { readonly action: 'skip'; readonly version: string; readonly reason: string }
  | { readonly action: 'start'; readonly version: string; readonly executionName: string; readonly input: TriggerInput };

/** Step Functions execution names: letters, digits, `-` and `_`, at most 80 characters. */
export function triggerExecutionName(gateway: string, version: string, object: ObjectCreated): string {
  const identity = createHash('sha256').update(`${object.key}\n${object.versionId ?? ''}\n${object.etag ?? ''}`).digest('hex').slice(0, 12);
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '-');
  return `${safe(gateway)}-s3-${safe(version)}`.slice(0, 80 - identity.length - 1) + `-${identity}`;
}

const startByHand = (gateway: string, version: string) => `npx gateway-deployer start --version ${version} --reason "…"  (gateway ${gateway})`;

/** The metadata the run checks, or the reason it cannot be used (named by its key). */
function uploadFacts(metadata: Readonly<Record<string, string>> = {}): { facts: Pick<TriggerInput, 'expectedAgentVersion' | 'bundleSha256'> } | { problem: string } {
  const agent = metadata[METADATA_EXPECTED_AGENT_VERSION]?.trim();
  const sha = metadata[METADATA_SHA256]?.trim().toLowerCase();
  if (agent !== undefined && !valid(agent.replace(/^v/, ''))) {
    return { problem: `its metadata ${METADATA_EXPECTED_AGENT_VERSION}=${JSON.stringify(agent.slice(0, 40))} is not a version such as 0.16.24` };
  }
  if (sha !== undefined && !/^[0-9a-f]{64}$/.test(sha)) {
    return { problem: `its metadata ${METADATA_SHA256} is not a sha256 (64 hexadecimal digits)` };
  }
  return { facts: { ...(agent ? { expectedAgentVersion: agent.replace(/^v/, '') } : {}), ...(sha ? { bundleSha256: sha } : {}) } };
}

export function decideTrigger(object: ObjectCreated, policy: TriggerPolicy, deployedVersion: string | null): TriggerDecision {
  let version: string;
  try {
    version = versionFromBundleKey(object.key, policy.releasesPrefix);
  } catch (error) {
    return { action: 'ignore', reason: (error as Error).message };
  }
  if (prerelease(version) !== null && !policy.allowPrereleases) {
    return {
      action: 'skip',
      version,
      reason: `gateway ${version} is a pre-release, which an upload does not start (releaseTrigger.allowPrereleases is false); to deploy it anyway: ${startByHand(policy.gateway, version)}`,
    };
  }
  if (deployedVersion !== null && compare(version, deployedVersion) <= 0) {
    return {
      action: 'skip',
      version,
      reason: `gateway ${version} was uploaded, but ${deployedVersion} is deployed; an upload starts only upgrades (start a run by hand to redeploy or downgrade)`,
    };
  }
  if (deployedVersion !== null && major(version) - major(deployedVersion) > policy.maxMajorStep) {
    return {
      action: 'skip',
      version,
      reason:
        `gateway ${version} is more than ${policy.maxMajorStep} major version(s) above the deployed ${deployedVersion} (releaseTrigger.maxMajorStep), ` +
        `so it waits for an operator: check that it is the release the vendor announced, then ${startByHand(policy.gateway, version)}`,
    };
  }
  const upload = uploadFacts(object.metadata);
  if ('problem' in upload) {
    return { action: 'skip', version, reason: `gateway ${version} was uploaded, but ${upload.problem}; upload it again with correct metadata, or start it by hand` };
  }
  return {
    action: 'start',
    version,
    executionName: triggerExecutionName(policy.gateway, version, object),
    input: { bundleKey: object.key, trigger: 's3', reason: `bundle ${object.key} uploaded`, ...upload.facts },
  };
}
