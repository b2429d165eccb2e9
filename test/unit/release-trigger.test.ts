import { decideTrigger, triggerExecutionName } from '../../lambdas/shared/domain/release-trigger';
import { resolveExecutionInput } from '../../lambdas/shared/domain/execution-input';

const PREFIX = 'releases/';

describe('decideTrigger', () => {
  test('a newer bundle starts an upgrade whose input Preflight accepts', () => {
    const decision = decideTrigger({ key: 'releases/gateway-1.2.0.zip', versionId: 'v1' }, PREFIX, 'gw-prod', '1.1.0');
    expect(decision).toMatchObject({ action: 'start', version: '1.2.0', input: { bundleKey: 'releases/gateway-1.2.0.zip', trigger: 's3' } });
    if (decision.action !== 'start') throw new Error('expected start');
    expect(resolveExecutionInput(decision.input, PREFIX)).toMatchObject({ version: '1.2.0', trigger: 's3' });
  });

  test('the first bundle of a gateway starts its install', () => {
    expect(decideTrigger({ key: 'releases/gateway-0.8.1.zip' }, PREFIX, 'gw', null).action).toBe('start');
  });

  test.each([
    ['the same version', '1.1.0'],
    ['an older version', '1.2.0'],
  ])('%s as deployed is skipped, with a reason for operators', (_, deployed) => {
    const decision = decideTrigger({ key: 'releases/gateway-1.1.0.zip' }, PREFIX, 'gw', deployed);
    expect(decision).toMatchObject({ action: 'skip', version: '1.1.0' });
    expect((decision as { reason: string }).reason).toContain(`${deployed} is deployed`);
  });

  test.each(['releases/notes.txt', 'releases/gateway-latest.zip', 'releases/old/gateway-1.0.0.zip', 'other/gateway-1.0.0.zip'])('%s is not a bundle: ignored', (key) => {
    expect(decideTrigger({ key }, PREFIX, 'gw', '1.0.0').action).toBe('ignore');
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
