import { createHash } from 'node:crypto';
import compare from 'semver/functions/compare';
import { versionFromBundleKey } from './versions';

/**
 * A new gateway-<version>.zip under the releases prefix starts an upgrade by itself; anything else that lands
 * there does not. The execution name is derived from the object, so a repeated event or a re-upload of the same
 * object cannot start a second run: Step Functions refuses a name it has seen.
 */

/** The partition prefix of the trigger's proofs (`TRIGGER#<execution>`), which only the release trigger may write. */
export const TRIGGER_PARTITION_PREFIX = 'TRIGGER#';

export interface ObjectCreated {
  readonly key: string;
  readonly versionId?: string;
  readonly etag?: string;
}

export type TriggerDecision =
  | { readonly action: 'ignore'; readonly reason: string }
  | { readonly action: 'skip'; readonly version: string; readonly reason: string }
  | { readonly action: 'start'; readonly version: string; readonly executionName: string; readonly input: { bundleKey: string; trigger: 's3'; reason: string } };

/** Step Functions execution names: letters, digits, `-` and `_`, at most 80 characters. */
export function triggerExecutionName(gateway: string, version: string, object: ObjectCreated): string {
  const identity = createHash('sha256').update(`${object.key}\n${object.versionId ?? ''}\n${object.etag ?? ''}`).digest('hex').slice(0, 12);
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '-');
  return `${safe(gateway)}-s3-${safe(version)}`.slice(0, 80 - identity.length - 1) + `-${identity}`;
}

export function decideTrigger(object: ObjectCreated, releasesPrefix: string, gateway: string, deployedVersion: string | null): TriggerDecision {
  let version: string;
  try {
    version = versionFromBundleKey(object.key, releasesPrefix);
  } catch (error) {
    return { action: 'ignore', reason: (error as Error).message };
  }
  if (deployedVersion !== null && compare(version, deployedVersion) <= 0) {
    return {
      action: 'skip',
      version,
      reason: `gateway ${version} was uploaded, but ${deployedVersion} is deployed; an upload starts only upgrades (start a run by hand to redeploy or downgrade)`,
    };
  }
  return {
    action: 'start',
    version,
    executionName: triggerExecutionName(gateway, version, object),
    input: { bundleKey: object.key, trigger: 's3', reason: `bundle ${object.key} uploaded` },
  };
}
