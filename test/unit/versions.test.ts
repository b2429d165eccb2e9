import { BundleError, VersionError } from '../../lambdas/shared/domain/errors';
import {
  bundleKeyFor,
  decideVersionChange,
  parseVersion,
  versionFromBundleKey,
  type VersionPolicy,
} from '../../lambdas/shared/domain/versions';

const PREFIX = 'releases/';
const STRICT: VersionPolicy = { allowRedeploy: false, allowDowngrade: false };
const PERMISSIVE: VersionPolicy = { allowRedeploy: true, allowDowngrade: true };

describe('parseVersion', () => {
  test.each([
    ['0.8.1', '0.8.1'],
    ['1.0.0-rc.1', '1.0.0-rc.1'],
    ['10.20.30', '10.20.30'],
  ])('accepts %s', (text, expected) => {
    expect(parseVersion(text)).toBe(expected);
  });

  test.each(['0.8', 'latest', '', '1', '0.8.1.2', 'one.two.three'])('refuses %j', (text) => {
    expect(parseVersion(text)).toBeNull();
  });
});

describe('versionFromBundleKey', () => {
  test.each([
    ['releases/gateway-0.8.1.zip', '0.8.1'],
    ['releases/gateway-1.0.0-rc.1.zip', '1.0.0-rc.1'],
    ['releases/gateway-0.16.20.zip', '0.16.20'],
    ['releases/gateway-2.0.0-beta.2.zip', '2.0.0-beta.2'],
  ])('reads %s as %s', (key, version) => {
    expect(versionFromBundleKey(key, PREFIX)).toBe(version);
  });

  test('honours a custom prefix', () => {
    expect(versionFromBundleKey('vendor/apheris/gateway-0.8.1.zip', 'vendor/apheris/')).toBe('0.8.1');
  });

  test.each([
    ['other/gateway-0.8.1.zip', 'releases/'],
    ['gateway-0.8.1.zip', 'releases/'],
    ['releases/old/gateway-0.8.1.zip', 'releases/'],
    ['releases/nested/deeper/gateway-0.8.1.zip', 'releases/'],
    ['releasesX/gateway-0.8.1.zip', 'releases/'],
  ])('refuses %s (not directly under the prefix)', (key) => {
    expect(() => versionFromBundleKey(key, PREFIX)).toThrow(BundleError);
    expect(() => versionFromBundleKey(key, PREFIX)).toThrow(`bundle key "${key}" is not directly under the releases prefix "releases/"`);
  });

  test.each(['releases/foo.zip', 'releases/gateway-0.8.1.tar.gz', 'releases/gateway-0.8.1', 'releases/gateway.zip', 'releases/Gateway-0.8.1.zip'])(
    'refuses %s (not named gateway-<version>.zip)',
    (key) => {
      expect(() => versionFromBundleKey(key, PREFIX)).toThrow(BundleError);
      expect(() => versionFromBundleKey(key, PREFIX)).toThrow(`bundle key "${key}" is not named gateway-<version>.zip`);
    },
  );

  test.each(['gateway-0.8.zip', 'gateway-v0.8.1.zip', 'gateway-latest.zip', 'gateway-0.8.1.2.zip', 'gateway- 0.8.1.zip'])(
    'refuses %s (no semantic version)',
    (fileName) => {
      const key = `releases/${fileName}`;
      expect(() => versionFromBundleKey(key, PREFIX)).toThrow(BundleError);
      expect(() => versionFromBundleKey(key, PREFIX)).toThrow(`bundle "${fileName}" does not carry a semantic version`);
    },
  );
});

describe('bundleKeyFor', () => {
  test.each([
    ['0.8.1', 'releases/', 'releases/gateway-0.8.1.zip'],
    ['1.0.0-rc.1', 'releases/', 'releases/gateway-1.0.0-rc.1.zip'],
    ['0.8.1', 'vendor/apheris/', 'vendor/apheris/gateway-0.8.1.zip'],
  ])('%s under %s is %s', (version, prefix, key) => {
    expect(bundleKeyFor(version, prefix)).toBe(key);
  });

  test.each(['0.8', 'latest', '', 'x.y.z'])('refuses %j naming the version', (version) => {
    expect(() => bundleKeyFor(version, PREFIX)).toThrow(BundleError);
    expect(() => bundleKeyFor(version, PREFIX)).toThrow(`version "${version}" is not a semantic version`);
  });

  test.each(['0.8.1', '1.0.0-rc.1', '0.16.20'])('round-trips %s through versionFromBundleKey', (version) => {
    expect(versionFromBundleKey(bundleKeyFor(version, PREFIX), PREFIX)).toBe(version);
  });

  // Regression (found by these tests, fixed): parseVersion normalises "v0.8.1" and " 0.8.1" to "0.8.1", so bundleKeyFor accepts them and
  // builds a key ("releases/gateway-v0.8.1.zip") that versionFromBundleKey itself refuses. It should refuse them.
  test.each(['v0.8.1', ' 0.8.1', '0.8.1 '])('refuses the non-canonical version %j', (version) => {
    expect(() => bundleKeyFor(version, PREFIX)).toThrow(BundleError);
  });
});

describe('decideVersionChange', () => {
  test('nothing deployed yet is an install', () => {
    expect(decideVersionChange('0.8.1', null, STRICT)).toEqual({ change: 'install', from: null, to: '0.8.1' });
  });

  test.each([
    ['0.8.2', '0.8.1'],
    ['0.9.0', '0.8.1'],
    ['1.0.0', '0.16.20'],
    ['0.10.0', '0.9.0'],
    ['1.0.0', '1.0.0-rc.1'],
    ['1.0.0-rc.2', '1.0.0-rc.1'],
  ])('%s over %s is an upgrade', (requested, deployed) => {
    expect(decideVersionChange(requested, deployed, STRICT)).toEqual({ change: 'upgrade', from: deployed, to: requested });
  });

  test('the same version is a redeploy when allowed', () => {
    expect(decideVersionChange('0.8.1', '0.8.1', { allowRedeploy: true, allowDowngrade: false })).toEqual({
      change: 'redeploy',
      from: '0.8.1',
      to: '0.8.1',
    });
  });

  test('the same version is refused without allowRedeploy, naming the version and the flag', () => {
    const act = () => decideVersionChange('0.8.1', '0.8.1', { allowRedeploy: false, allowDowngrade: true });
    expect(act).toThrow(VersionError);
    expect(act).toThrow(/gateway 0\.8\.1 is already deployed/);
    expect(act).toThrow(/"allowRedeploy": true/);
  });

  test.each([
    ['0.8.0', '0.8.1'],
    ['0.9.0', '0.10.0'],
    ['1.0.0-rc.1', '1.0.0'],
    ['1.0.0-rc.1', '1.0.0-rc.2'],
  ])('%s under %s is a downgrade when allowed', (requested, deployed) => {
    expect(decideVersionChange(requested, deployed, { allowRedeploy: false, allowDowngrade: true })).toEqual({
      change: 'downgrade',
      from: deployed,
      to: requested,
    });
  });

  test.each([
    ['0.8.0', '0.8.1'],
    ['1.0.0-rc.1', '1.0.0'],
  ])('%s under %s is refused without allowDowngrade, naming both versions and the flag', (requested, deployed) => {
    const act = () => decideVersionChange(requested, deployed, { allowRedeploy: true, allowDowngrade: false });
    expect(act).toThrow(VersionError);
    let message = '';
    try {
      act();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(requested);
    expect(message).toContain(deployed);
    expect(message).toContain('"allowDowngrade": true');
  });

  test('the error name is the class name (what Step Functions sees as Error)', () => {
    try {
      decideVersionChange('0.8.0', '0.8.1', STRICT);
      throw new Error('expected a VersionError');
    } catch (e) {
      expect((e as Error).name).toBe('VersionError');
      expect((e as VersionError).retryable).toBe(false);
    }
  });

  test('allowing everything does not turn an upgrade into anything else', () => {
    expect(decideVersionChange('0.9.0', '0.8.1', PERMISSIVE).change).toBe('upgrade');
  });
});
