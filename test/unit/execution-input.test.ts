import { BundleError, InputError } from '../../lambdas/shared/domain/errors';
import { executionInputSchema, resolveExecutionInput } from '../../lambdas/shared/domain/execution-input';

const PREFIX = 'releases/';
const SHA = 'a3f1c9e2b4d6078f9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071';

function messageOf(raw: unknown, prefix = PREFIX): string {
  try {
    resolveExecutionInput(raw, prefix);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('expected resolveExecutionInput to throw');
}

describe('resolveExecutionInput: version and bundle key', () => {
  test('a bare version derives the bundle key and fills the defaults', () => {
    expect(resolveExecutionInput({ version: '0.8.1' }, PREFIX)).toEqual({
      operation: 'deploy',
      version: '0.8.1',
      bundleKey: 'releases/gateway-0.8.1.zip',
      allowRedeploy: false,
      allowDowngrade: false,
      trigger: 'console',
    });
  });

  test('a bare bundle key gives the version', () => {
    const input = resolveExecutionInput({ bundleKey: 'releases/gateway-0.8.1.zip' }, PREFIX);
    expect(input.version).toBe('0.8.1');
    expect(input.bundleKey).toBe('releases/gateway-0.8.1.zip');
  });

  test.each([
    ['1.0.0-rc.1', 'releases/gateway-1.0.0-rc.1.zip'],
    ['0.16.20', 'releases/gateway-0.16.20.zip'],
  ])('version %s ↔ bundle key %s', (version, bundleKey) => {
    expect(resolveExecutionInput({ version }, PREFIX).bundleKey).toBe(bundleKey);
    expect(resolveExecutionInput({ bundleKey }, PREFIX).version).toBe(version);
  });

  test('the releases prefix is honoured', () => {
    expect(resolveExecutionInput({ version: '0.8.1' }, 'vendor/gw/').bundleKey).toBe('vendor/gw/gateway-0.8.1.zip');
  });

  test('version and bundle key that agree are accepted', () => {
    const input = resolveExecutionInput({ version: '0.8.1', bundleKey: 'releases/gateway-0.8.1.zip' }, PREFIX);
    expect(input).toMatchObject({ version: '0.8.1', bundleKey: 'releases/gateway-0.8.1.zip' });
  });

  test('version and bundle key that disagree are refused, naming both', () => {
    const message = messageOf({ version: '0.8.2', bundleKey: 'releases/gateway-0.8.1.zip' });
    expect(message).toContain('- version: "0.8.2" does not match bundleKey "releases/gateway-0.8.1.zip" (0.8.1)');
  });

  test('neither version nor bundle key is refused with a hint', () => {
    const message = messageOf({ allowRedeploy: true });
    expect(message).toContain('execution input is invalid');
    expect(message).toContain('give "version" (e.g. "0.8.1") or "bundleKey" (e.g. "releases/gateway-0.8.1.zip")');
  });

  test('an empty object is refused with the hint', () => {
    expect(messageOf({})).toContain('give "version"');
  });

  test.each(['0.8', 'latest', '', '0.8.1.2', 'eight'])('a non-semantic version %j is refused, naming it', (version) => {
    const message = messageOf({ version });
    expect(message).toContain(`- version: "${version}" is not a semantic version such as 0.8.1`);
  });

  // Regression (found by these tests, fixed): parseVersion() normalises "v0.8.1" / " 0.8.1", so these pass and yield the bundle key
  // "releases/gateway-v0.8.1.zip" (or "releases/gateway- 0.8.1.zip") and a non-canonical version in history.
  test.each(['v0.8.1', ' 0.8.1', '0.8.1 '])('a non-canonical version %j is refused, naming it', (version) => {
    const message = messageOf({ version });
    expect(message).toContain('- version:');
    expect(message).toContain(JSON.stringify(version));
  });

  test('an empty bundle key is refused, naming the field', () => {
    expect(messageOf({ bundleKey: '' })).toContain('- bundleKey:');
  });

  test.each([
    ['other/gateway-0.8.1.zip', 'is not directly under the releases prefix'],
    ['releases/foo.zip', 'is not named gateway-<version>.zip'],
    ['releases/gateway-latest.zip', 'does not carry a semantic version'],
  ])('a bundle key %s not naming a bundle is refused by the bundle rules', (bundleKey, reason) => {
    const act = () => resolveExecutionInput({ bundleKey }, PREFIX);
    expect(act).toThrow(BundleError);
    expect(act).toThrow(reason);
  });
});

describe('resolveExecutionInput: strictness and field checks', () => {
  test.each(['allowDowngrad', 'allow_redeploy', 'Version', 'sha256'])('the unknown field %s is refused, naming it', (field) => {
    const message = messageOf({ version: '0.8.1', [field]: true });
    expect(message).toContain(`- ${field}: unknown field`);
  });

  test.each([
    ['too short', 'abc123'],
    ['65 characters', `${SHA}0`],
    ['not hex', 'z'.repeat(64)],
    ['with a prefix', `sha256:${SHA}`],
  ])('a bundleSha256 %s is refused, naming the field', (_, bundleSha256) => {
    const message = messageOf({ version: '0.8.1', bundleSha256 });
    expect(message).toContain('- bundleSha256: must be 64 hexadecimal characters');
  });

  test('an uppercase bundleSha256 is lowercased', () => {
    expect(resolveExecutionInput({ version: '0.8.1', bundleSha256: SHA.toUpperCase() }, PREFIX).bundleSha256).toBe(SHA);
  });

  test('a lowercase bundleSha256 is kept', () => {
    expect(resolveExecutionInput({ version: '0.8.1', bundleSha256: SHA }, PREFIX).bundleSha256).toBe(SHA);
  });

  test.each(['0.16.20', 'v1.2.3', '1.2.3-rc.1', 'latest_build'])('expectedAgentVersion %s is an image tag', (tag) => {
    expect(resolveExecutionInput({ version: '0.8.1', expectedAgentVersion: tag }, PREFIX).expectedAgentVersion).toBe(tag);
  });

  test.each(['', '-1.0', '1.0 beta', 'a'.repeat(129), 'repo:tag'])('expectedAgentVersion %j is refused, naming the field', (tag) => {
    expect(messageOf({ version: '0.8.1', expectedAgentVersion: tag })).toContain('- expectedAgentVersion: must be an image tag');
  });

  test.each([
    ['allowRedeploy', 'yes'],
    ['allowDowngrade', 1],
    ['trigger', 'cron'],
    ['version', 81],
    ['reason', 'x'.repeat(501)],
  ])('a bad %s is refused, naming the field', (field, value) => {
    expect(messageOf({ version: '0.8.1', [field]: value })).toContain(`- ${field}:`);
  });

  test('every option is carried through', () => {
    const input = resolveExecutionInput(
      {
        version: '0.8.1',
        bundleSha256: SHA,
        expectedAgentVersion: '0.16.20',
        allowRedeploy: true,
        allowDowngrade: true,
        reason: 'rotate the orchestrator client secret',
        trigger: 'cli',
      },
      PREFIX,
    );
    expect(input).toEqual({
      operation: 'deploy',
      version: '0.8.1',
      bundleKey: 'releases/gateway-0.8.1.zip',
      bundleSha256: SHA,
      expectedAgentVersion: '0.16.20',
      allowRedeploy: true,
      allowDowngrade: true,
      reason: 'rotate the orchestrator client secret',
      trigger: 'cli',
    });
  });

  test.each(['console', 'cli', 's3'] as const)('trigger %s is accepted', (trigger) => {
    expect(resolveExecutionInput({ version: '0.8.1', trigger }, PREFIX).trigger).toBe(trigger);
  });

  test.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', '0.8.1'],
    ['a number', 81],
    ['an array', [{ version: '0.8.1' }]],
  ])('%s as input is refused', (_, raw) => {
    const message = messageOf(raw);
    expect(message).toContain('execution input is invalid');
    expect(message).toContain('(top level)');
  });

  test('the schema alone refuses neither-nor with the hint', () => {
    const result = executionInputSchema.safeParse({ trigger: 'cli' });
    expect(result.success).toBe(false);
  });
});

describe('resolveExecutionInput: operations', () => {
  test('operation defaults to deploy; "deploy" may be given', () => {
    expect(resolveExecutionInput({ version: '0.8.1' }, PREFIX).operation).toBe('deploy');
    expect(resolveExecutionInput({ operation: 'deploy', version: '0.8.1' }, PREFIX).operation).toBe('deploy');
  });

  test('an unknown operation is refused, naming the field', () => {
    expect(messageOf({ operation: 'destroy', version: '0.8.1' })).toContain('- operation:');
  });

  test('a deploy still needs a version or a bundle key', () => {
    expect(messageOf({ operation: 'deploy' })).toContain('give "version"');
  });

  test.each(['detach-vpc', 'drift-check'] as const)('%s needs no version: it uses the deployed one', (operation) => {
    expect(resolveExecutionInput({ operation }, PREFIX)).toEqual({ operation, allowRedeploy: false, allowDowngrade: false, trigger: 'console' });
  });

  test.each(['detach-vpc', 'drift-check'] as const)('%s with a version or bundle key resolves both, for Preflight to compare', (operation) => {
    expect(resolveExecutionInput({ operation, version: '0.8.1' }, PREFIX)).toMatchObject({ version: '0.8.1', bundleKey: 'releases/gateway-0.8.1.zip' });
    expect(resolveExecutionInput({ operation, bundleKey: 'releases/gateway-0.8.1.zip' }, PREFIX)).toMatchObject({ version: '0.8.1' });
  });

  test('the version rules still hold for the other operations', () => {
    expect(messageOf({ operation: 'drift-check', version: 'v0.8.1' })).toContain('- version: "v0.8.1" is not a semantic version');
    expect(messageOf({ operation: 'detach-vpc', version: '0.8.2', bundleKey: 'releases/gateway-0.8.1.zip' })).toContain('does not match bundleKey');
  });

  test.each([
    ['detach-vpc', 'allowDowngrade', true],
    ['detach-vpc', 'allowDowngrade', false],
    ['detach-vpc', 'allowRedeploy', true],
    ['detach-vpc', 'expectedAgentVersion', '0.16.20'],
    ['drift-check', 'allowRedeploy', true],
    ['drift-check', 'allowDowngrade', true],
  ])('%s with %s refuses it, naming the field', (operation, field, value) => {
    const message = messageOf({ operation, [field]: value });
    expect(message).toContain(`- ${field}: means nothing to operation "${operation}", which works on the deployed version; leave it out`);
  });

  test('two such fields are both named', () => {
    const message = messageOf({ operation: 'detach-vpc', allowRedeploy: true, allowDowngrade: true });
    expect(message).toContain('- allowRedeploy:');
    expect(message).toContain('- allowDowngrade:');
  });

  test('drift-check may carry the expected agent version, a reason, a sha256 and the cli trigger', () => {
    const input = resolveExecutionInput({ operation: 'drift-check', expectedAgentVersion: '0.16.20', reason: 'weekly', bundleSha256: SHA, trigger: 'cli' }, PREFIX);
    expect(input).toEqual({
      operation: 'drift-check',
      expectedAgentVersion: '0.16.20',
      reason: 'weekly',
      bundleSha256: SHA,
      trigger: 'cli',
      allowRedeploy: false,
      allowDowngrade: false,
    });
  });

  test.each(['detach-vpc', 'drift-check'])('%s with trigger "s3" is refused: bundle uploads start deploys only', (operation) => {
    expect(messageOf({ operation, trigger: 's3' })).toContain(`- trigger: "s3" is for deploys started by a bundle upload, not for operation "${operation}"`);
  });

  test('a deploy keeps allowRedeploy and allowDowngrade, defaulting to false', () => {
    expect(resolveExecutionInput({ version: '0.8.1', allowDowngrade: true }, PREFIX)).toMatchObject({ allowRedeploy: false, allowDowngrade: true });
  });
});

describe('resolveExecutionInput: the schedule trigger', () => {
  test('the drift schedule starts drift checks', () => {
    const input = resolveExecutionInput({ operation: 'drift-check', trigger: 'schedule', reason: 'drift schedule rate(1 day)' }, PREFIX);
    expect(input).toMatchObject({ operation: 'drift-check', trigger: 'schedule' });
  });

  test.each([
    [{ version: '0.8.1', trigger: 'schedule' }, 'deploy'],
    [{ operation: 'detach-vpc', trigger: 'schedule' }, 'detach-vpc'],
  ])('%j is refused, naming the field', (raw, operation) => {
    expect(messageOf(raw)).toContain(`- trigger: "schedule" is for drift checks started by the drift schedule, not for operation "${operation}"`);
  });
});

describe('resolveExecutionInput: the messages of a wrong type or value', () => {
  // zod's English messages, as the operator read them before the schema moved to zod/mini (which installs no
  // locale by itself: see domain/zod-locale.ts); "Invalid input" alone would not say what was expected.
  test.each([
    [{ operation: 'destroy', version: '0.8.1' }, '- operation: Invalid option: expected one of "deploy"|"detach-vpc"|"drift-check"'],
    [{ version: '0.8.1', allowRedeploy: 'yes' }, '- allowRedeploy: Invalid input: expected boolean, received string'],
    [{ version: 81 }, '- version: expected text, not a number: quote it (YAML reads unquoted digits as a number and drops leading zeros)'],
    [{ version: '0.8.1', reason: 'x'.repeat(501) }, '- reason: Too big: expected string to have <=500 characters'],
    [{ version: '0.8.1', trigger: 'cron' }, '- trigger: Invalid option: expected one of "console"|"cli"|"s3"|"schedule"'],
  ])('%j', (raw, line) => {
    expect(messageOf(raw).split('\n')).toContain(line);
  });

  test('a sha256 in capitals is accepted and kept in lower case', () => {
    expect(resolveExecutionInput({ version: '0.8.1', bundleSha256: SHA.toUpperCase() }, PREFIX).bundleSha256).toBe(SHA);
  });
});
