import { decideTrigger, triggerExecutionName, type TriggerPolicy } from '../../lambdas/shared/domain/release-trigger';
import { resolveExecutionInput } from '../../lambdas/shared/domain/execution-input';

const PREFIX = 'releases/';
const policy = (gateway: string, extra: Partial<TriggerPolicy> = {}): TriggerPolicy => ({ releasesPrefix: PREFIX, gateway, allowPrereleases: false, maxMajorStep: 1, ...extra });

describe('decideTrigger', () => {
  test('a newer bundle starts an upgrade whose input Preflight accepts', () => {
    const decision = decideTrigger({ key: 'releases/gateway-1.2.0.zip', versionId: 'v1' }, policy('gw-prod'), '1.1.0');
    expect(decision).toMatchObject({ action: 'start', version: '1.2.0', input: { bundleKey: 'releases/gateway-1.2.0.zip', trigger: 's3' } });
    if (decision.action !== 'start') throw new Error('expected start');
    expect(resolveExecutionInput(decision.input, PREFIX)).toMatchObject({ version: '1.2.0', trigger: 's3' });
  });

  test('the first bundle of a gateway starts its install', () => {
    expect(decideTrigger({ key: 'releases/gateway-0.8.1.zip' }, policy('gw'), null).action).toBe('start');
  });

  test.each([
    ['the same version', '1.1.0'],
    ['an older version', '1.2.0'],
  ])('%s as deployed is skipped, with a reason for operators', (_, deployed) => {
    const decision = decideTrigger({ key: 'releases/gateway-1.1.0.zip' }, policy('gw'), deployed);
    expect(decision).toMatchObject({ action: 'skip', version: '1.1.0' });
    expect((decision as { reason: string }).reason).toContain(`${deployed} is deployed`);
  });

  test.each(['releases/notes.txt', 'releases/gateway-latest.zip', 'releases/old/gateway-1.0.0.zip', 'other/gateway-1.0.0.zip'])('%s is not a bundle: ignored', (key) => {
    expect(decideTrigger({ key }, policy('gw'), '1.0.0').action).toBe('ignore');
  });
});

describe('decideTrigger: what an upload may not start by itself', () => {
  test.each(['2.1.0-rc.1', '1.2.0-beta', '1.1.1-0'])('a pre-release (%s) is skipped, with the way to start it by hand', (version) => {
    const decision = decideTrigger({ key: `releases/gateway-${version}.zip` }, policy('gw'), '1.1.0');
    expect(decision).toMatchObject({ action: 'skip', version });
    expect((decision as { reason: string }).reason).toContain('is a pre-release, which an upload does not start (releaseTrigger.allowPrereleases is false)');
    expect((decision as { reason: string }).reason).toContain(`npx gateway-deployer start --version ${version}`);
  });

  test('a pre-release starts when the config allows it, and only if newer', () => {
    expect(decideTrigger({ key: 'releases/gateway-2.1.0-rc.1.zip' }, policy('gw', { allowPrereleases: true }), '2.0.0').action).toBe('start');
    expect(decideTrigger({ key: 'releases/gateway-2.1.0-rc.1.zip' }, policy('gw', { allowPrereleases: true }), '2.1.0').action).toBe('skip');
  });

  test('a mistaken gateway-999.0.0.zip waits for an operator instead of starting (and so never becomes the deployed version)', () => {
    const decision = decideTrigger({ key: 'releases/gateway-999.0.0.zip' }, policy('gw'), '1.4.2');
    expect(decision).toMatchObject({ action: 'skip', version: '999.0.0' });
    expect((decision as { reason: string }).reason).toContain('more than 1 major version(s) above the deployed 1.4.2 (releaseTrigger.maxMajorStep), so it waits for an operator');
  });

  test.each([
    ['the next minor', '1.9.0', 1, 'start'],
    ['the next major', '2.0.0', 1, 'start'],
    ['two majors up', '3.0.0', 1, 'skip'],
    ['two majors up, allowed', '3.0.0', 2, 'start'],
    ['the next major, with no step allowed', '2.0.0', 0, 'skip'],
    ['a minor, with no major step allowed', '1.5.0', 0, 'start'],
  ])('%s (%s from 1.4.2, maxMajorStep %d): %s', (_, version, maxMajorStep, action) => {
    expect(decideTrigger({ key: `releases/gateway-${version}.zip` }, policy('gw', { maxMajorStep }), '1.4.2').action).toBe(action);
  });

  test('the first install has no deployed version to step from: any release starts it', () => {
    expect(decideTrigger({ key: 'releases/gateway-7.0.0.zip' }, policy('gw'), null).action).toBe('start');
  });
});

describe('decideTrigger: what the upload says about itself', () => {
  const sha = 'ab'.repeat(32);
  test('expected-agent-version and sha256 metadata become the run\'s expectedAgentVersion and bundleSha256', () => {
    const decision = decideTrigger({ key: 'releases/gateway-1.2.0.zip', metadata: { 'expected-agent-version': 'v0.16.24', sha256: sha.toUpperCase() } }, policy('gw'), '1.1.0');
    expect(decision).toMatchObject({ action: 'start', input: { expectedAgentVersion: '0.16.24', bundleSha256: sha } });
    if (decision.action !== 'start') throw new Error('expected start');
    expect(resolveExecutionInput(decision.input, PREFIX)).toMatchObject({ expectedAgentVersion: '0.16.24', bundleSha256: sha });
  });

  test('without metadata the input carries neither (the success notice then says the agent version was not compared)', () => {
    const decision = decideTrigger({ key: 'releases/gateway-1.2.0.zip', metadata: {} }, policy('gw'), '1.1.0');
    expect(decision.action === 'start' && decision.input).toEqual({ bundleKey: 'releases/gateway-1.2.0.zip', trigger: 's3', reason: 'bundle releases/gateway-1.2.0.zip uploaded' });
  });

  test.each([
    [{ 'expected-agent-version': 'latest' }, 'its metadata expected-agent-version="latest" is not a version'],
    [{ sha256: 'abc' }, 'its metadata sha256 is not a sha256'],
  ])('bad metadata %j: nothing starts, and the key is named', (metadata, says) => {
    const decision = decideTrigger({ key: 'releases/gateway-1.2.0.zip', metadata }, policy('gw'), '1.1.0');
    expect(decision).toMatchObject({ action: 'skip' });
    expect((decision as { reason: string }).reason).toContain(says);
  });
});

describe('triggerExecutionName', () => {
  test('the same object always gives the same name, so a repeated event cannot start a second run', () => {
    const object = { key: 'releases/gateway-1.2.0.zip', versionId: 'abc', etag: '"e1"' };
    expect(triggerExecutionName('gw', '1.2.0', object)).toBe(triggerExecutionName('gw', '1.2.0', { ...object }));
  });

  test('a re-upload (a new object version) gives a new name', () => {
    const a = triggerExecutionName('gw', '1.2.0', { key: 'releases/gateway-1.2.0.zip', versionId: 'v1' });
    const b = triggerExecutionName('gw', '1.2.0', { key: 'releases/gateway-1.2.0.zip', versionId: 'v2' });
    expect(a).not.toBe(b);
  });

  test('names are valid execution names (and run ids): no dots, at most 80 characters', () => {
    const name = triggerExecutionName('a-very-long-gateway-name-of-thirty-two', '10.20.30-rc.1+build.5', { key: 'k', versionId: 'v' });
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(name.startsWith('a-very-long-gateway-name-of-thirty-two-s3-10-20-30-rc-1')).toBe(true);
  });
});
