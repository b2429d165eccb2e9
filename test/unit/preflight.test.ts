/**
 * runPreflight against in-memory ports: the seed's prerequisites as ordered, read-only checks. Every fake port
 * records its calls, so each refusal also proves which reads did (not) happen before it.
 */
import { createHash } from 'node:crypto';
import {
  runPreflight,
  type CallerIdentity,
  type PreflightEvent,
  type PreflightPorts,
  type PreflightResult,
  type SecretText,
} from '../../lambdas/preflight/preflight';
import type { SubnetFacts } from '../../lambdas/shared/domain/subnets';
import {
  BundleError,
  ConfigError,
  DeploymentError,
  IdentityError,
  InputError,
  ValuesError,
  VersionError,
  TriggerNotProven,
} from '../../lambdas/shared/domain/errors';
import { INVALID_YAML, VALUES_YAML, expectNoCanary, placeholderYaml, valuesYaml } from '../support/values-fixtures';
import { SAMPLE_MODULE_FILES, forgeDeclaredSize, renameEntry, sampleModuleZip } from '../support/zip-fixtures';

const BUCKET = 'gw-artifacts-test';
const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const GATEWAY = 'gw-prod';
const SECRET_NAME = 'gateways/gw-prod/values';
const SECRET_ARN = `arn:aws:secretsmanager:eu-central-1:${ACCOUNT}:secret:${SECRET_NAME}-AbCdEf`;
const SECRET_VERSION = 'a1b2c3d4-0000-4000-8000-00000000beef';
const BUNDLE_KEY = 'releases/gateway-0.8.1.zip';
const BUNDLE_VERSION_ID = 'bundle-version-3';
const ROLE_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/gateway-deployer/preflight`;
const CUSTOM_KEY = 'custom/gateway.tf';

/** The HOWTO's example values for the credentials, with canaries left where the seed has real-looking data. */
const PLACEHOLDER_YAML = placeholderYaml('tenant', 'clientId', 'helmRepoPassword');

interface StoredFake {
  bytes: Buffer;
  versionId?: string;
  /** What HeadObject reports; defaults to the byte length. */
  sizeBytes?: number;
}

interface World {
  caller: CallerIdentity;
  objects: Map<string, StoredFake>;
  secrets: Map<string, SecretText>;
  deployed: Map<string, string>;
  /** The bundle sha256 recorded with the deployed version, by gateway. */
  deployedSha: Map<string, string>;
  subnets: SubnetFacts[];
  /** The release trigger's proofs, by execution name. */
  proofs: Map<string, { bundleKey: string; versionId?: string }>;
}

interface Fake {
  ports: PreflightPorts;
  calls: string[];
  world: World;
}

let bundle: Buffer;
let bundleSha: string;

beforeAll(async () => {
  bundle = await sampleModuleZip();
  bundleSha = createHash('sha256').update(bundle).digest('hex');
});

/** A world where the happy path passes; tests then break one thing in it. */
function fake(change: (world: World) => void = () => {}): Fake {
  const world: World = {
    caller: { account: ACCOUNT, arn: ROLE_ARN },
    objects: new Map([[BUNDLE_KEY, { bytes: bundle, versionId: BUNDLE_VERSION_ID }]]),
    secrets: new Map([[SECRET_NAME, { text: VALUES_YAML, arn: SECRET_ARN, versionId: SECRET_VERSION }]]),
    deployed: new Map(),
    deployedSha: new Map(),
    subnets: [],
    proofs: new Map(),
  };
  change(world);
  const calls: string[] = [];
  const ports: PreflightPorts = {
    async callerIdentity() {
      calls.push('callerIdentity');
      return world.caller;
    },
    async headArtifact(key) {
      calls.push(`headArtifact ${key}`);
      const object = world.objects.get(key);
      if (!object) return null;
      return { sizeBytes: object.sizeBytes ?? object.bytes.length, ...(object.versionId ? { versionId: object.versionId } : {}) };
    },
    async getArtifact(key, versionId, maxBytes) {
      calls.push(`getArtifact ${key} ${versionId ?? '(latest)'}`);
      const object = world.objects.get(key);
      if (!object) throw new Error(`fake: getArtifact of missing ${key}`);
      if (versionId !== object.versionId) throw new Error(`fake: ${key} has no version ${versionId}`);
      // As the handler's port: the stream stops one byte past the limit.
      return object.bytes.subarray(0, maxBytes + 1);
    },
    async getValuesSecret(name) {
      calls.push(`getValuesSecret ${name}`);
      return world.secrets.get(name) ?? null;
    },
    async deployment(gateway) {
      calls.push(`deployment ${gateway}`);
      const version = world.deployed.get(gateway);
      if (version === undefined) return null;
      const sha = world.deployedSha.get(gateway);
      return { version, ...(sha ? { bundleSha256: sha } : {}) };
    },
    async describeSubnets(ids) {
      calls.push(`describeSubnets ${ids.join(',')}`);
      return world.subnets.filter((s) => ids.includes(s.subnetId));
    },
    async triggerProof(executionName) {
      calls.push(`triggerProof ${executionName}`);
      return world.proofs.get(executionName) ?? null;
    },
  };
  return { ports, calls, world };
}

function config(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    gatewayName: GATEWAY,
    target: { account: ACCOUNT, region: 'eu-central-1' },
    valuesSecretName: SECRET_NAME,
    approval: { approvers: [`arn:aws:iam::${ACCOUNT}:role/GatewayOperator`] },
    ...extra,
  });
}

function event(input: unknown = { version: '0.8.1' }, configJson: string = config()): PreflightEvent {
  return { input, config: configJson };
}

/** The calls of a run that passed every check, in the order the checks are documented. */
const ALL_READS = [
  'callerIdentity',
  `deployment ${GATEWAY}`,
  `headArtifact ${BUNDLE_KEY}`,
  `getArtifact ${BUNDLE_KEY} ${BUNDLE_VERSION_ID}`,
  `getValuesSecret ${SECRET_NAME}`,
];

/** Runs preflight expecting a refusal of `type`; checks that nothing of the values secret leaks into it. */
async function refusal<E extends DeploymentError>(
  type: new (message: string) => E,
  ev: PreflightEvent,
  f: Fake,
): Promise<E> {
  const outcome = await runPreflight(ev, f.ports, BUCKET).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected ${type.name}, but preflight passed: ${JSON.stringify(outcome.result)}`);
  const error = outcome.error as E;
  expect(error).toBeInstanceOf(type);
  expect(error.name).toBe(type.name);
  expect(error.retryable).toBe(false);
  expectNoCanary(error.message);
  expectNoCanary(String(error.stack));
  expectNoCanary(JSON.stringify(error));
  return error;
}

async function pass(ev: PreflightEvent, f: Fake): Promise<PreflightResult> {
  const result = await runPreflight(ev, f.ports, BUCKET);
  expectNoCanary(JSON.stringify(result));
  return result;
}

describe('runPreflight: a run that passes', () => {
  test('first install: the result names the checked bundle, secret version and caller, and holds no secret value', async () => {
    const f = fake();
    const result = await pass(event(), f);
    expect(result).toEqual({
      operation: 'deploy',
      gateway: GATEWAY,
      version: '0.8.1',
      change: 'install',
      previousVersion: null,
      bundle: {
        bucket: BUCKET,
        key: BUNDLE_KEY,
        versionId: BUNDLE_VERSION_ID,
        sha256: bundleSha,
        sizeBytes: bundle.length,
        entryCount: SAMPLE_MODULE_FILES.length,
      },
      values: { secretArn: SECRET_ARN, versionId: SECRET_VERSION },
      caller: { account: ACCOUNT, arn: ROLE_ARN },
      trigger: 'console',
      warnings: [],
    });
    expect(result.bundle.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Cheapest first, each exactly once; the bundle read is pinned to the version HeadObject saw.
    expect(f.calls).toEqual(ALL_READS);
  });

  test('the bundleKey form resolves the version from the key', async () => {
    const f = fake();
    const result = await pass(event({ bundleKey: BUNDLE_KEY }), f);
    expect(result).toMatchObject({ version: '0.8.1', bundle: { key: BUNDLE_KEY } });
    expect(f.calls).toEqual(ALL_READS);
  });

  test('a custom releases prefix decides the bundle key', async () => {
    const f = fake((w) => {
      w.objects.clear();
      w.objects.set('vendor/gw/gateway-0.8.1.zip', { bytes: bundle, versionId: 'v9' });
    });
    const result = await pass(event({ version: '0.8.1' }, config({ bundle: { releasesPrefix: 'vendor/gw/' } })), f);
    expect(result.bundle).toMatchObject({ key: 'vendor/gw/gateway-0.8.1.zip', versionId: 'v9' });
  });

  test('expectedAgentVersion, reason and trigger pass through to the result', async () => {
    const f = fake();
    const result = await pass(
      event({ version: '0.8.1', expectedAgentVersion: '0.16.20', reason: 'vendor release 2025-06', trigger: 'cli' }),
      f,
    );
    expect(result).toMatchObject({ expectedAgentVersion: '0.16.20', reason: 'vendor release 2025-06', trigger: 'cli' });
  });

  describe('a run marked "trigger": "s3" (auto-approval may let it through) must be the release trigger\'s', () => {
    const UPLOAD = 'gw-s3-0-8-1-abcdef123456';
    const s3Input = { bundleKey: BUNDLE_KEY, trigger: 's3', reason: 'bundle uploaded' };

    test('with the trigger\'s proof for this execution and bundle, it passes as an upload', async () => {
      const f = fake((w) => w.proofs.set(UPLOAD, { bundleKey: BUNDLE_KEY, versionId: BUNDLE_VERSION_ID }));
      const result = await pass({ ...event(s3Input), executionName: UPLOAD }, f);
      expect(result.trigger).toBe('s3');
      expect(f.calls[0]).toBe(`triggerProof ${UPLOAD}`);
    });

    test('typed in the console (no proof): refused before anything else is read', async () => {
      const f = fake();
      const error = await refusal(TriggerNotProven, { ...event(s3Input), executionName: 'console-run-1' }, f);
      expect(error.message).toContain('"s3" is set only by the release trigger');
      expect(f.calls).toEqual(['triggerProof console-run-1']);
    });

    test('the proof of another bundle does not count', async () => {
      const f = fake((w) => w.proofs.set(UPLOAD, { bundleKey: 'releases/gateway-0.9.0.zip' }));
      const error = await refusal(TriggerNotProven, { ...event(s3Input), executionName: UPLOAD }, f);
      expect(error.message).toContain('for releases/gateway-0.9.0.zip, not releases/gateway-0.8.1.zip');
    });

    test('a bundle overwritten after the upload that started the run is refused', async () => {
      const f = fake((w) => w.proofs.set(UPLOAD, { bundleKey: BUNDLE_KEY, versionId: 'uploaded-version' }));
      const error = await refusal(TriggerNotProven, { ...event(s3Input), executionName: UPLOAD }, f);
      expect(error.message).toContain('was overwritten after the upload');
    });

    test('a console or CLI run needs no proof', async () => {
      const f = fake();
      await pass({ ...event({ version: '0.8.1', trigger: 'cli' }), executionName: 'x' }, f);
      expect(f.calls.some((c) => c.startsWith('triggerProof'))).toBe(false);
    });
  });

  test('without expectedAgentVersion and reason the result has no such keys', async () => {
    const result = await pass(event(), fake());
    expect(result).not.toHaveProperty('expectedAgentVersion');
    expect(result).not.toHaveProperty('reason');
    expect(result).not.toHaveProperty('customGatewayTf');
  });

  test('a matching bundleSha256 (in upper case) passes', async () => {
    const result = await pass(event({ version: '0.8.1', bundleSha256: bundleSha.toUpperCase() }), fake());
    expect(result.bundle.sha256).toBe(bundleSha);
  });

  test('an unversioned bucket: an empty versionId in the result, the latest object is read', async () => {
    const f = fake((w) => w.objects.set(BUNDLE_KEY, { bytes: bundle }));
    const result = await pass(event(), f);
    expect(result.bundle.versionId).toBe('');
    expect(f.calls).toContain(`getArtifact ${BUNDLE_KEY} (latest)`);
  });

  test.each([
    ['an assumed role', ROLE_ARN],
    ['an IAM user', `arn:aws:iam::${ACCOUNT}:user/deployer`],
    ['an IAM user that happens to be called "root"', `arn:aws:iam::${ACCOUNT}:user/root`],
  ])('%s in the target account may deploy', async (_what, arn) => {
    const result = await pass(event(), fake((w) => (w.caller = { account: ACCOUNT, arn })));
    expect(result.caller).toEqual({ account: ACCOUNT, arn });
  });
});

describe('runPreflight: the execution input and the configuration are checked before any read', () => {
  test.each([
    ['an unknown (misspelt) field', { version: '0.8.1', allowDowngarde: true }, 'allowDowngarde: unknown field'],
    ['neither version nor bundleKey', {}, 'give "version"'],
    ['a version that is not semantic', { version: 'v0.8.1' }, '"v0.8.1" is not a semantic version'],
    ['a version not matching the bundle key', { version: '0.8.2', bundleKey: BUNDLE_KEY }, 'does not match bundleKey'],
    ['a malformed bundleSha256', { version: '0.8.1', bundleSha256: 'abc' }, 'bundleSha256: must be 64 hexadecimal characters'],
    ['an unknown trigger', { version: '0.8.1', trigger: 'cron' }, 'trigger'],
    ['no input at all', null, 'execution input is invalid'],
  ])('%s → InputError, no port called', async (_what, input, problem) => {
    const f = fake();
    const error = await refusal(InputError, event(input), f);
    expect(error.message).toContain('execution input is invalid');
    expect(error.message).toContain(problem);
    expect(f.calls).toEqual([]);
  });

  test('a bundle key outside the releases prefix → BundleError, no port called', async () => {
    const f = fake();
    const error = await refusal(BundleError, event({ bundleKey: 'uploads/gateway-0.8.1.zip' }), f);
    expect(error.message).toContain('not directly under the releases prefix "releases/"');
    expect(f.calls).toEqual([]);
  });

  test('an invalid configuration → ConfigError, no port called', async () => {
    const f = fake();
    const error = await refusal(ConfigError, event({ version: '0.8.1' }, config({ target: { account: '1234', region: 'eu-central-1' } })), f);
    expect(error.message).toContain('target.account: must be a 12-digit AWS account id');
    expect(f.calls).toEqual([]);
  });

  test('a config that is not JSON → ConfigError, no port called', async () => {
    const f = fake();
    await refusal(ConfigError, event({ version: '0.8.1' }, '{not json'), f);
    expect(f.calls).toEqual([]);
  });
});

describe('runPreflight: identity', () => {
  test('another account → IdentityError naming both accounts; nothing else is read', async () => {
    const f = fake((w) => (w.caller = { account: OTHER_ACCOUNT, arn: `arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/x/y` }));
    const error = await refusal(IdentityError, event(), f);
    expect(error.message).toContain(OTHER_ACCOUNT);
    expect(error.message).toContain(ACCOUNT);
    expect(error.message).toBe(`running in AWS account ${OTHER_ACCOUNT}, but the gateway config targets account ${ACCOUNT}`);
    expect(f.calls).toEqual(['callerIdentity']);
  });

  test('the root user → IdentityError naming it; nothing else is read', async () => {
    const f = fake((w) => (w.caller = { account: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root` }));
    const error = await refusal(IdentityError, event(), f);
    expect(error.message).toContain('root user');
    expect(error.message).toContain(`arn:aws:iam::${ACCOUNT}:root`);
    expect(f.calls).toEqual(['callerIdentity']);
  });
});

describe('runPreflight: the bundle', () => {
  test('a missing bundle → BundleError with its S3 URL; no download, no secret read', async () => {
    const f = fake((w) => w.objects.clear());
    const error = await refusal(BundleError, event(), f);
    expect(error.message).toContain(`s3://${BUCKET}/${BUNDLE_KEY} not found`);
    expect(error.message).toContain('gateway-0.8.1.zip');
    expect(f.calls).toEqual(ALL_READS.slice(0, 3));
  });

  test('a bundle over bundle.maxBytes → BundleError, getArtifact never called', async () => {
    const f = fake();
    const error = await refusal(BundleError, event({ version: '0.8.1' }, config({ bundle: { maxBytes: 100 } })), f);
    expect(error.message).toBe(`gateway-0.8.1.zip is ${bundle.length} bytes, over the limit of 100 (bundle.maxBytes)`);
    expect(f.calls).toEqual(ALL_READS.slice(0, 3));
    expect(f.calls.some((c) => c.startsWith('getArtifact'))).toBe(false);
  });

  test('a bundle of exactly bundle.maxBytes passes', async () => {
    const result = await pass(event({ version: '0.8.1' }, config({ bundle: { maxBytes: bundle.length } })), fake());
    expect(result.bundle.sizeBytes).toBe(bundle.length);
  });

  test('an object larger than its HEAD said (an unversioned key overwritten in between) → BundleError at bundle.maxBytes', async () => {
    const f = fake((w) => w.objects.set(BUNDLE_KEY, { bytes: bundle, versionId: BUNDLE_VERSION_ID, sizeBytes: 100 }));
    const error = await refusal(BundleError, event({ version: '0.8.1' }, config({ bundle: { maxBytes: 100 } })), f);
    expect(error.message).toBe('gateway-0.8.1.zip is more than 100 bytes (bundle.maxBytes), though S3 reported 100');
    expect(f.calls).toEqual(ALL_READS.slice(0, 4));
  });

  test('a central directory that understates an entry (a hidden zip bomb) → BundleError naming it and both sizes', async () => {
    const bomb = forgeDeclaredSize(await sampleModuleZip([{ name: 'modules/agent/blob.bin', content: Buffer.alloc(1024 * 1024) }]), 'modules/agent/blob.bin', 1000);
    const f = fake((w) => w.objects.set(BUNDLE_KEY, { bytes: bomb, versionId: BUNDLE_VERSION_ID }));
    const error = await refusal(BundleError, event(), f);
    expect(error.message).toMatch(/^gateway-0\.8\.1\.zip: entry "modules\/agent\/blob\.bin" unpacks to more than the 1000 bytes its central directory declares \(at least \d+ when inflating stopped\)/);
    expect(f.calls).toEqual(ALL_READS.slice(0, 4));
  });

  test('an unsafe bundle → BundleError naming the entry; the secret is never read', async () => {
    const evil = renameEntry(await sampleModuleZip([{ name: 'xx/evil.tf', content: 'x' }]), 'xx/evil.tf', '../evil.tf');
    const f = fake((w) => w.objects.set(BUNDLE_KEY, { bytes: evil, versionId: BUNDLE_VERSION_ID }));
    const error = await refusal(BundleError, event(), f);
    expect(error.message).toContain('gateway-0.8.1.zip: unsafe entry');
    expect(error.message).toContain('../evil.tf');
    expect(f.calls).toEqual(ALL_READS.slice(0, 4));
  });

  test('bytes that are not a zip → BundleError', async () => {
    const f = fake((w) => w.objects.set(BUNDLE_KEY, { bytes: Buffer.from('<html>not a zip</html>'), versionId: 'v1' }));
    const error = await refusal(BundleError, event(), f);
    expect(error.message).toContain('gateway-0.8.1.zip is not a valid zip archive');
    expect(f.calls.some((c) => c.startsWith('getValuesSecret'))).toBe(false);
  });

  test('a sha256 mismatch → BundleError naming both digests; the secret is never read', async () => {
    const given = 'ab'.repeat(32);
    const f = fake();
    const error = await refusal(BundleError, event({ version: '0.8.1', bundleSha256: given }), f);
    expect(error.message).toBe(`gateway-0.8.1.zip has sha256 ${bundleSha}, not the ${given} given in the input`);
    expect(f.calls).toEqual(ALL_READS.slice(0, 4));
  });
});

describe('runPreflight: the values secret', () => {
  test('a missing secret → ValuesError naming it and valuesSecretName', async () => {
    const f = fake((w) => w.secrets.clear());
    const error = await refusal(ValuesError, event(), f);
    expect(error.message).toContain(`values secret "${SECRET_NAME}" (valuesSecretName) not found`);
    expect(f.calls).toEqual(ALL_READS);
  });

  test('the HOWTO placeholders → ValuesError naming the keys, not the values', async () => {
    const f = fake((w) => w.secrets.set(SECRET_NAME, { text: PLACEHOLDER_YAML, arn: SECRET_ARN, versionId: SECRET_VERSION }));
    const error = await refusal(ValuesError, event(), f);
    expect(error.message).toContain(SECRET_NAME);
    expect(error.message).toContain("still holds the HOWTO's example values at tenant, auth.orchestrator.clientId, helmRepoPassword");
    expect(f.calls).toEqual(ALL_READS);
  });

  test('invalid YAML → ValuesError with positions only', async () => {
    const f = fake((w) => w.secrets.set(SECRET_NAME, { text: INVALID_YAML, arn: SECRET_ARN, versionId: SECRET_VERSION }));
    const error = await refusal(ValuesError, event(), f);
    expect(error.message).toContain(`values secret "${SECRET_NAME}" is not valid YAML`);
    expect(error.message).toMatch(/line \d+ column \d+/);
  });

  test('an incomplete secret → ValuesError naming the missing key', async () => {
    const text = valuesYaml({ helmRepoPassword: null });
    const f = fake((w) => w.secrets.set(SECRET_NAME, { text, arn: SECRET_ARN, versionId: SECRET_VERSION }));
    const error = await refusal(ValuesError, event(), f);
    expect(error.message).toContain('helmRepoPassword: is missing or not a string');
  });

  test('a secret without a SecretString (binary) → ValuesError "is empty"', async () => {
    const f = fake((w) => w.secrets.set(SECRET_NAME, { text: undefined, arn: SECRET_ARN, versionId: SECRET_VERSION }));
    const error = await refusal(ValuesError, event(), f);
    expect(error.message).toContain(`values secret "${SECRET_NAME}" is empty`);
  });
});

describe('runPreflight: a customized gateway.tf', () => {
  test('configured but missing → BundleError naming the key', async () => {
    const f = fake();
    const error = await refusal(BundleError, event({ version: '0.8.1' }, config({ customGatewayTfKey: CUSTOM_KEY })), f);
    expect(error.message).toContain(`s3://${BUCKET}/${CUSTOM_KEY}`);
    expect(error.message).toContain('customGatewayTfKey');
    expect(f.calls).toEqual([...ALL_READS, `headArtifact ${CUSTOM_KEY}`]);
  });

  test('present → the result carries its key and version', async () => {
    const f = fake((w) => w.objects.set(CUSTOM_KEY, { bytes: Buffer.from('module "gateway" {}\n'), versionId: 'tf-v2' }));
    const result = await pass(event({ version: '0.8.1' }, config({ customGatewayTfKey: CUSTOM_KEY })), f);
    expect(result.customGatewayTf).toEqual({ key: CUSTOM_KEY, versionId: 'tf-v2' });
    expect(f.calls).toEqual([...ALL_READS, `headArtifact ${CUSTOM_KEY}`]);
  });

  test('present in an unversioned bucket → the key alone', async () => {
    const f = fake((w) => w.objects.set(CUSTOM_KEY, { bytes: Buffer.from('module "gateway" {}\n') }));
    const result = await pass(event({ version: '0.8.1' }, config({ customGatewayTfKey: CUSTOM_KEY })), f);
    expect(result.customGatewayTf).toEqual({ key: CUSTOM_KEY });
  });
});

describe('runPreflight: the version decision against the last deployed version', () => {
  const deployed = (version: string) => fake((w) => w.deployed.set(GATEWAY, version));

  test('an older deployed version → upgrade', async () => {
    const result = await pass(event(), deployed('0.8.0'));
    expect(result).toMatchObject({ change: 'upgrade', previousVersion: '0.8.0', version: '0.8.1' });
  });

  test('another gateway\'s deployment does not count', async () => {
    const result = await pass(event(), fake((w) => w.deployed.set('gw-other', '0.9.0')));
    expect(result).toMatchObject({ change: 'install', previousVersion: null });
  });

  test('the same version → VersionError pointing at allowRedeploy', async () => {
    const f = deployed('0.8.1');
    const error = await refusal(VersionError, event(), f);
    expect(error.message).toContain('0.8.1 is already deployed');
    expect(error.message).toContain('"allowRedeploy": true');
    // Decided from one table read, before the bundle is downloaded.
    expect(f.calls).toEqual(ALL_READS.slice(0, 2));
  });

  test('the same version with allowRedeploy → redeploy', async () => {
    const result = await pass(event({ version: '0.8.1', allowRedeploy: true }), deployed('0.8.1'));
    expect(result).toMatchObject({ change: 'redeploy', previousVersion: '0.8.1' });
  });

  test('the same version with only allowDowngrade is still refused', async () => {
    await refusal(VersionError, event({ version: '0.8.1', allowDowngrade: true }), deployed('0.8.1'));
  });

  test('a newer deployed version → VersionError naming both versions and allowDowngrade', async () => {
    const error = await refusal(VersionError, event(), deployed('0.9.0'));
    expect(error.message).toContain('0.8.1');
    expect(error.message).toContain('0.9.0');
    expect(error.message).toContain('"allowDowngrade": true');
  });

  test('a downgrade with only allowRedeploy is still refused', async () => {
    await refusal(VersionError, event({ version: '0.8.1', allowRedeploy: true }), deployed('0.9.0'));
  });

  test('a downgrade with allowDowngrade → downgrade', async () => {
    const result = await pass(event({ version: '0.8.1', allowDowngrade: true }), deployed('0.9.0'));
    expect(result).toMatchObject({ change: 'downgrade', previousVersion: '0.9.0', version: '0.8.1' });
  });

  test('versions compare as semver, not as text (0.10.0 is newer than 0.9.0)', async () => {
    const f = fake((w) => {
      w.objects.set('releases/gateway-0.10.0.zip', { bytes: bundle, versionId: 'v10' });
      w.deployed.set(GATEWAY, '0.9.0');
    });
    const result = await pass(event({ version: '0.10.0' }), f);
    expect(result).toMatchObject({ change: 'upgrade', previousVersion: '0.9.0' });
  });

  test('a pre-release of the deployed version counts as older', async () => {
    const f = fake((w) => {
      w.objects.set('releases/gateway-0.9.0-rc.1.zip', { bytes: bundle, versionId: 'rc' });
      w.deployed.set(GATEWAY, '0.9.0');
    });
    const error = await refusal(VersionError, event({ version: '0.9.0-rc.1' }), f);
    expect(error.message).toContain('older than the deployed 0.9.0');
  });
});

describe('runPreflight: detach-vpc and drift-check work on the deployed gateway', () => {
  const deployedAt = (version: string, sha?: string) =>
    fake((w) => {
      w.deployed.set(GATEWAY, version);
      if (sha) w.deployedSha.set(GATEWAY, sha);
    });

  test.each(['detach-vpc', 'drift-check'] as const)('%s without a version: the deployed version and its bundle, change "same"', async (operation) => {
    const f = deployedAt('0.8.1', bundleSha);
    const result = await pass(event({ operation }), f);
    expect(result).toMatchObject({
      operation,
      gateway: GATEWAY,
      version: '0.8.1',
      change: 'same',
      previousVersion: '0.8.1',
      bundle: { key: BUNDLE_KEY, versionId: BUNDLE_VERSION_ID, sha256: bundleSha },
      values: { secretArn: SECRET_ARN, versionId: SECRET_VERSION },
    });
    // The same reads as a deploy, no allowRedeploy needed.
    expect(f.calls).toEqual(ALL_READS);
  });

  test('the deploy result says operation "deploy"', async () => {
    expect((await pass(event(), fake())).operation).toBe('deploy');
  });

  test.each(['detach-vpc', 'drift-check'] as const)('%s with nothing deployed → InputError naming the gateway; no bundle read', async (operation) => {
    const f = fake();
    const error = await refusal(InputError, event({ operation }), f);
    expect(error.message).toBe(`nothing deployed for gateway ${GATEWAY}: ${operation} needs a deployed gateway (deploy a version first)`);
    expect(f.calls).toEqual(ALL_READS.slice(0, 2));
  });

  test('a version (or bundleKey) naming the deployed version is accepted', async () => {
    expect((await pass(event({ operation: 'drift-check', version: '0.8.1' }), deployedAt('0.8.1'))).bundle.key).toBe(BUNDLE_KEY);
    expect((await pass(event({ operation: 'detach-vpc', bundleKey: BUNDLE_KEY }), deployedAt('0.8.1'))).version).toBe('0.8.1');
  });

  test('a bundleKey under another name of the deployed version is impossible: the key must be gateway-<version>.zip', async () => {
    const f = fake();
    const error = await refusal(BundleError, event({ operation: 'detach-vpc', bundleKey: 'releases/gw-0.8.1.zip' }), f);
    expect(error.message).toContain('is not named gateway-<version>.zip');
    expect(f.calls).toEqual([]);
  });

  test.each([
    [{ version: '0.9.0' }],
    [{ bundleKey: 'releases/gateway-0.9.0.zip' }],
  ])('another version than the deployed one (%j) → VersionError naming both; no bundle read', async (given) => {
    const f = deployedAt('0.8.1');
    const error = await refusal(VersionError, event({ operation: 'detach-vpc', ...given }), f);
    expect(error.message).toContain('works on the deployed gateway 0.8.1, not 0.9.0');
    expect(error.message).toContain('leave "version" and "bundleKey" out of the input');
    expect(f.calls).toEqual(ALL_READS.slice(0, 2));
  });

  test('the deployed bundle replaced by other bytes under the same key → BundleError naming both digests', async () => {
    const recorded = 'cd'.repeat(32);
    const error = await refusal(BundleError, event({ operation: 'drift-check' }), deployedAt('0.8.1', recorded));
    expect(error.message).toContain(`has sha256 ${bundleSha}, not the ${recorded} deployed as 0.8.1`);
    expect(error.message).toContain('restore the deployed upload');
  });

  test('a deployed version recorded without a sha256 (older records) passes', async () => {
    expect((await pass(event({ operation: 'drift-check' }), deployedAt('0.8.1'))).change).toBe('same');
  });

  test('the input bundleSha256 is still checked', async () => {
    const error = await refusal(BundleError, event({ operation: 'drift-check', bundleSha256: 'ab'.repeat(32) }), deployedAt('0.8.1'));
    expect(error.message).toContain('given in the input');
  });

  test('detach-vpc with create_vpc still true (the default) passes with a warning to switch the config afterwards', async () => {
    const result = await pass(event({ operation: 'detach-vpc' }), deployedAt('0.8.1'));
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain('module.create_vpc is still true: after detach-vpc, set create_vpc = false');
  });

  test('drift-check and deploy with create_vpc true have no warning', async () => {
    expect((await pass(event({ operation: 'drift-check' }), deployedAt('0.8.1'))).warnings).toEqual([]);
    expect((await pass(event(), fake())).warnings).toEqual([]);
  });

  test.each([
    ['allowDowngrade', { allowDowngrade: true }],
    ['allowRedeploy', { allowRedeploy: false }],
    ['expectedAgentVersion', { expectedAgentVersion: '0.16.20' }],
  ])('detach-vpc with %s → InputError naming the field, no port called', async (field, extra) => {
    const f = deployedAt('0.8.1');
    const error = await refusal(InputError, event({ operation: 'detach-vpc', ...extra }), f);
    expect(error.message).toContain(`- ${field}: means nothing to operation "detach-vpc"`);
    expect(f.calls).toEqual([]);
  });
});

describe('runPreflight: the operator\'s subnets when create_vpc = false', () => {
  const VPC = 'vpc-045da9dc92fb2a887';
  const SUBNETS = ['subnet-0640da74d7ffb177f', 'subnet-0d0e19e8e7ee019a0', 'subnet-02e5590fa6f9712c9'];
  const reuse = (extra: Record<string, unknown> = {}) =>
    config({ module: { create_vpc: false, vpc_id: VPC, node_subnet_ids: SUBNETS }, ...extra });
  const subnet = (subnetId: string, free: number, vpcId = VPC): SubnetFacts => ({ subnetId, vpcId, availableIpAddressCount: free });
  const withSubnets = (...subnets: SubnetFacts[]) => fake((w) => (w.subnets = subnets));
  const READS_WITH_SUBNETS = [...ALL_READS.slice(0, 2), `describeSubnets ${SUBNETS.join(',')}`, ...ALL_READS.slice(2)];

  test('subnets with room (three fresh /24s): no warning; looked up after the version decision, before the bundle', async () => {
    const f = withSubnets(...SUBNETS.map((id) => subnet(id, 251)));
    const result = await pass(event({ version: '0.8.1' }, reuse()), f);
    expect(result.warnings).toEqual([]);
    expect(f.calls).toEqual(READS_WITH_SUBNETS);
  });

  test('fewer free addresses together than one reference subnet (254) → a warning naming each subnet\'s count', async () => {
    const result = await pass(event({ version: '0.8.1' }, reuse()), withSubnets(subnet(SUBNETS[0], 100), subnet(SUBNETS[1], 100), subnet(SUBNETS[2], 53)));
    expect(result.warnings).toEqual([
      `module.node_subnet_ids have 253 free IP addresses together (${SUBNETS[0]}: 100, ${SUBNETS[1]}: 100, ${SUBNETS[2]}: 53), fewer than 254 ` +
        "(vpcReuse.minFreeSubnetAddresses): each pod takes an address, and the HOWTO's reference setup has 3 subnets of 254; add or enlarge subnets before the gateway grows",
    ]);
  });

  test('the threshold comes from vpcReuse.minFreeSubnetAddresses', async () => {
    const subnets = SUBNETS.map((id) => subnet(id, 251));
    const warned = await pass(event({ version: '0.8.1' }, reuse({ vpcReuse: { minFreeSubnetAddresses: 1000 } })), withSubnets(...subnets));
    expect(warned.warnings[0]).toContain('753 free IP addresses together');
    const off = await pass(event({ version: '0.8.1' }, reuse({ vpcReuse: { minFreeSubnetAddresses: 0 } })), withSubnets(subnet(SUBNETS[0], 1), subnet(SUBNETS[1], 1), subnet(SUBNETS[2], 1)));
    expect(off.warnings).toEqual([]);
  });

  test('a missing subnet → ConfigError naming it; the bundle is never read', async () => {
    const f = withSubnets(subnet(SUBNETS[0], 251), subnet(SUBNETS[2], 251));
    const error = await refusal(ConfigError, event({ version: '0.8.1' }, reuse()), f);
    expect(error.message).toContain(`module.node_subnet_ids: 1 subnet not found in the target account and region: ${SUBNETS[1]}`);
    expect(f.calls).toEqual(READS_WITH_SUBNETS.slice(0, 3));
  });

  test('a subnet of another VPC → ConfigError naming the subnet and both VPCs', async () => {
    const f = withSubnets(subnet(SUBNETS[0], 251), subnet(SUBNETS[1], 251, 'vpc-0aaaaaaaaaaaaaaaa'), subnet(SUBNETS[2], 251));
    const error = await refusal(ConfigError, event({ version: '0.8.1' }, reuse()), f);
    expect(error.message).toBe(`module.node_subnet_ids: ${SUBNETS[1]} is in vpc-0aaaaaaaaaaaaaaaa, not in module.vpc_id ${VPC}`);
  });

  test('detach-vpc with create_vpc already false: the subnet check, and no create_vpc warning', async () => {
    const f = fake((w) => {
      w.deployed.set(GATEWAY, '0.8.1');
      w.subnets = SUBNETS.map((id) => subnet(id, 251));
    });
    const result = await pass(event({ operation: 'detach-vpc' }, reuse()), f);
    expect(result).toMatchObject({ operation: 'detach-vpc', change: 'same', warnings: [] });
    expect(f.calls).toContain(`describeSubnets ${SUBNETS.join(',')}`);
  });

  test('create_vpc true: DescribeSubnets is not called', async () => {
    const f = fake();
    await pass(event(), f);
    expect(f.calls.some((c) => c.startsWith('describeSubnets'))).toBe(false);
  });
});
