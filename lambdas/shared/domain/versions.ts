// Per-function imports: the whole semver package would add 30 KB to every bundle that reads a version.
import compare from 'semver/functions/compare';
import valid from 'semver/functions/valid';
import { BundleError, InputError, VersionError } from './errors';

/**
 * Bundle names and version decisions. The vendor ships `gateway-<version>.zip`; the version in the name is the
 * version of the gateway module, and it is what "upgrade", "redeploy" and "downgrade" are measured in.
 */

const BUNDLE_NAME = /^gateway-(.+)\.zip$/;

/**
 * Accepts only a canonical semantic version ("0.8.1", "1.2.0-rc.1"). semver would also take "v0.8.1" or
 * " 0.8.1 " and clean them, but the text becomes a bundle key, so it must already be what it means.
 */
export function parseVersion(text: string): string | null {
  return valid(text, { loose: false }) === text && !text.includes('+') ? text : null;
}

/** The S3 key of a version's bundle under the releases prefix. */
export function bundleKeyFor(version: string, releasesPrefix: string): string {
  if (!parseVersion(version)) {
    throw new BundleError(`version "${version}" is not a semantic version such as 0.8.1`);
  }
  return `${releasesPrefix}gateway-${version}.zip`;
}

/** Reads the version from a bundle key such as `releases/gateway-0.8.1.zip`. */
export function versionFromBundleKey(key: string, releasesPrefix: string): string {
  if (!key.startsWith(releasesPrefix) || key.slice(releasesPrefix.length).includes('/')) {
    throw new BundleError(`bundle key "${key}" is not directly under the releases prefix "${releasesPrefix}"`);
  }
  const fileName = key.slice(releasesPrefix.length);
  const match = BUNDLE_NAME.exec(fileName);
  if (!match) {
    throw new BundleError(`bundle key "${key}" is not named gateway-<version>.zip`);
  }
  const version = parseVersion(match[1]);
  if (!version || version !== match[1]) {
    throw new BundleError(`bundle "${fileName}" does not carry a semantic version (expected e.g. gateway-0.8.1.zip)`);
  }
  return version;
}

/**
 * What a run does to the deployed version. `same`: an operation other than deploy (detach-vpc, drift-check)
 * that works on the deployed version and deploys nothing, so it needs no allowRedeploy.
 */
export type VersionChange = 'install' | 'upgrade' | 'redeploy' | 'downgrade' | 'same';

export interface VersionDecision {
  readonly change: VersionChange;
  readonly from: string | null;
  readonly to: string;
}

export interface VersionPolicy {
  readonly allowRedeploy: boolean;
  readonly allowDowngrade: boolean;
}

/** Classifies a requested version against the last deployed one and refuses what the input did not allow. */
export function decideVersionChange(requested: string, deployed: string | null, policy: VersionPolicy): VersionDecision {
  if (deployed === null) return { change: 'install', from: null, to: requested };
  const order = compare(requested, deployed);
  if (order > 0) return { change: 'upgrade', from: deployed, to: requested };
  if (order === 0) {
    if (!policy.allowRedeploy) {
      throw new VersionError(
        `gateway ${requested} is already deployed; set "allowRedeploy": true in the input to deploy it again`,
      );
    }
    return { change: 'redeploy', from: deployed, to: requested };
  }
  if (!policy.allowDowngrade) {
    throw new VersionError(
      `gateway ${requested} is older than the deployed ${deployed}; a downgrade needs "allowDowngrade": true in the input`,
    );
  }
  return { change: 'downgrade', from: deployed, to: requested };
}

/**
 * detach-vpc and drift-check work on the deployed gateway: they need one, and they use its version. A version
 * named in the input (directly or through bundleKey) must be that version, so the operator learns at once that
 * the run would not use the bundle they had in mind.
 */
export function decideDeployedVersion(operation: string, gateway: string, requested: string | undefined, deployed: string | null): VersionDecision {
  if (deployed === null) {
    throw new InputError(`nothing deployed for gateway ${gateway}: ${operation} needs a deployed gateway (deploy a version first)`);
  }
  if (requested !== undefined && requested !== deployed) {
    throw new VersionError(
      `${operation} works on the deployed gateway ${deployed}, not ${requested}; leave "version" and "bundleKey" out of the input, or give the deployed version`,
    );
  }
  return { change: 'same', from: deployed, to: deployed };
}
