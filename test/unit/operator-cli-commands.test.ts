import * as z from 'zod';
import {
  buildStartInput,
  chooseConfigPath,
  consoleUrl,
  CREDENTIALS_HELP,
  EXECUTION_NAME,
  executionNameFor,
  explainAwsError,
  isCredentialsError,
  lockRefusal,
  OperatorError,
  parseWholeNumber,
  REGION_HELP,
  requireOutputs,
  resolveTarget,
  validateStartInput,
  versionInBundleKey,
} from '../../lambdas/shared/operator/cli-commands';

const SHA = 'a3f1c9e2b4d6078f9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071';
const ARN = 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw:cli-0-9-0-20240601093000';
const awsError = (name: string, message = `${name} happened`) => Object.assign(new Error(message), { name });

function failure(run: () => unknown): OperatorError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OperatorError);
    return error as OperatorError;
  }
  throw new Error('expected an OperatorError');
}

describe('resolveTarget', () => {
  const config = jest.fn(() => ({ gatewayName: 'prod', region: 'eu-west-1' }));
  beforeEach(() => config.mockClear());

  test('everything from the config: its gateway, the stack bin/app.ts names, its region', () => {
    expect(resolveTarget({}, config)).toEqual({ gateway: 'prod', stack: 'GatewayDeployer-prod', region: 'eu-west-1' });
  });

  test('--gateway names the stack too', () => {
    expect(resolveTarget({ gateway: 'edge' }, config)).toMatchObject({ gateway: 'edge', stack: 'GatewayDeployer-edge' });
  });

  test('--stack and --region win over the config', () => {
    expect(resolveTarget({ stack: 'Custom', region: 'us-east-1' }, config)).toEqual({ gateway: 'prod', stack: 'Custom', region: 'us-east-1' });
  });

  test('the config is not read when every flag is given', () => {
    expect(resolveTarget({ gateway: 'g1', stack: 'S', region: 'r' }, config)).toEqual({ gateway: 'g1', stack: 'S', region: 'r' });
    expect(config).not.toHaveBeenCalled();
  });

  test('the config is read once even when two defaults come from it', () => {
    resolveTarget({}, config);
    expect(config).toHaveBeenCalledTimes(1);
  });

  test('no region anywhere: left to the SDK', () => {
    expect(resolveTarget({}, () => ({ gatewayName: 'gateway' }))).toEqual({ gateway: 'gateway', stack: 'GatewayDeployer-gateway' });
  });
});

describe('chooseConfigPath', () => {
  test('--config first', () => expect(chooseConfigPath({ flag: 'a.yaml', env: 'b.yaml', cdkJson: { context: { gatewayConfig: 'c.yaml' } } })).toBe('a.yaml'));
  test('then GATEWAY_CONFIG', () => expect(chooseConfigPath({ env: 'b.yaml', cdkJson: { context: { gatewayConfig: 'c.yaml' } } })).toBe('b.yaml'));
  test("then cdk.json's context", () => expect(chooseConfigPath({ cdkJson: { context: { gatewayConfig: 'c.yaml' } } })).toBe('c.yaml'));
  test('else none (the built-in example)', () => {
    expect(chooseConfigPath({})).toBeUndefined();
    expect(chooseConfigPath({ env: '', cdkJson: { context: { other: 1 } } })).toBeUndefined();
    expect(chooseConfigPath({ cdkJson: { context: { gatewayConfig: 42 } } })).toBeUndefined();
  });
});

describe('explainAwsError', () => {
  test.each(['CredentialsProviderError', 'ExpiredToken', 'ExpiredTokenException', 'UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'TokenRefreshRequired'])(
    '%s: how to provide credentials, exit 2',
    (name) => {
      const explained = explainAwsError(awsError(name, 'nope'));
      expect(explained).toBeInstanceOf(OperatorError);
      expect((explained as OperatorError).exitCode).toBe(2);
      expect((explained as Error).message).toContain(`(${name}: nope)`);
      expect((explained as Error).message).toContain(CREDENTIALS_HELP);
    },
  );

  test('the help names a profile, SSO login and the environment variables', () => {
    expect(CREDENTIALS_HELP).toContain('AWS_PROFILE');
    expect(CREDENTIALS_HELP).toContain('aws sso login');
    expect(CREDENTIALS_HELP).toContain('AWS_ACCESS_KEY_ID');
  });

  test('recognized by message too (the SDK names some of these plain Error)', () => {
    expect(isCredentialsError(new Error('Could not load credentials from any providers'))).toBe(true);
    expect(isCredentialsError(new Error('The SSO session associated with this profile has expired or is otherwise invalid.'))).toBe(true);
    expect(isCredentialsError(new Error('The security token included in the request is expired'))).toBe(true);
    expect(isCredentialsError(awsError('ThrottlingException'))).toBe(false);
  });

  test('a missing region', () => {
    const explained = explainAwsError(new Error('Region is missing')) as OperatorError;
    expect(explained).toEqual(new OperatorError(REGION_HELP, 2));
    expect(explained.exitCode).toBe(2);
  });

  test('a stack that does not exist: deploy it first, exit 2', () => {
    const explained = explainAwsError(awsError('ValidationError', 'Stack with id GatewayDeployer-gw does not exist'), { stack: 'GatewayDeployer-gw', region: 'eu-west-1' }) as OperatorError;
    expect(explained).toBeInstanceOf(OperatorError);
    expect(explained.message).toMatch(/^stack GatewayDeployer-gw not found in eu-west-1: deploy it first with `npx cdk deploy`/);
    expect(explained.exitCode).toBe(2);
  });

  test.each([
    [Object.assign(new Error('getaddrinfo ENOTFOUND cloudformation.eu-centrl-1.amazonaws.com'), { code: 'ENOTFOUND' }), 'cannot reach AWS (cloudformation.eu-centrl-1.amazonaws.com): ENOTFOUND'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }), 'cannot reach AWS (127.0.0.1:443): ECONNREFUSED'],
    [new Error('Error: getaddrinfo EAI_AGAIN sts.eu-west-1.amazonaws.com'), 'cannot reach AWS (sts.eu-west-1.amazonaws.com): EAI_AGAIN'],
  ])('an unreachable endpoint (%s) is exit 2 with what to check, not a raw Node error', (error, message) => {
    const explained = explainAwsError(error, { stack: 'S', region: 'eu-west-1' }) as OperatorError;
    expect(explained).toBeInstanceOf(OperatorError);
    expect(explained.message).toContain(message);
    expect(explained.message).toContain('the region (eu-west-1)');
    expect(explained.exitCode).toBe(2);
  });

  test('a ValidationError outside DescribeStacks is not a missing stack', () => {
    const error = awsError('ValidationError', 'Stack with id x does not exist');
    expect(explainAwsError(error)).toBe(error);
  });

  test('DescribeStacks denied', () => {
    const explained = explainAwsError(awsError('AccessDenied', 'not authorized'), { stack: 'S', region: 'r' }) as OperatorError;
    expect(explained.message).toBe('not allowed to read stack S (cloudformation:DescribeStacks): not authorized');
    expect(explained.exitCode).toBe(2);
  });

  test('anything else, and an OperatorError, pass unchanged', () => {
    const throttled = awsError('ThrottlingException');
    expect(explainAwsError(throttled, { stack: 'S' })).toBe(throttled);
    const mine = new OperatorError('x');
    expect(explainAwsError(mine)).toBe(mine);
  });
});

describe('requireOutputs', () => {
  const outputs = [
    { OutputKey: 'StateMachineArn', OutputValue: 'arn:sm' },
    { OutputKey: 'DeploymentsTableName', OutputValue: 'table' },
    { OutputKey: 'Other', OutputValue: 'x' },
    { OutputKey: 'ArtifactsBucketName', OutputValue: '' },
  ];

  test('returns the required outputs (and whatever else is there)', () => {
    const found = requireOutputs(outputs, 'S', ['StateMachineArn', 'DeploymentsTableName']);
    expect(found.StateMachineArn).toBe('arn:sm');
    expect(found.DeploymentsTableName).toBe('table');
  });

  test('names the missing output, exit 2', () => {
    const error = failure(() => requireOutputs(outputs, 'GatewayDeployer-gw', ['StateMachineArn', 'ArtifactsBucketName']));
    expect(error.message).toBe('stack GatewayDeployer-gw has no output ArtifactsBucketName: is it a gateway deployer stack, deployed by this version of the deployer?');
    expect(error.exitCode).toBe(2);
  });

  test('names every missing output at once', () => {
    expect(failure(() => requireOutputs([], 'S', ['StateMachineArn', 'DeploymentsTableName'])).message).toContain('has no outputs StateMachineArn, DeploymentsTableName:');
  });
});

describe('buildStartInput', () => {
  test('a version: only what was asked, trigger cli, no operation for a deploy', () => {
    expect(buildStartInput({ version: '0.9.0' })).toEqual({ version: '0.9.0', trigger: 'cli' });
    expect(buildStartInput({ version: '0.9.0', operation: 'deploy' })).not.toHaveProperty('operation');
  });

  test('every flag maps to its field', () => {
    expect(
      buildStartInput({
        bundleKey: 'releases/gateway-0.9.0.zip',
        sha256: SHA,
        expectedAgentVersion: '0.16.20',
        allowRedeploy: true,
        allowDowngrade: true,
        reason: '  ticket 1234  ',
      }),
    ).toEqual({
      bundleKey: 'releases/gateway-0.9.0.zip',
      bundleSha256: SHA,
      expectedAgentVersion: '0.16.20',
      allowRedeploy: true,
      allowDowngrade: true,
      reason: 'ticket 1234',
      trigger: 'cli',
    });
  });

  test('false switches and a blank reason are left out', () => {
    expect(buildStartInput({ version: '1.0.0', allowRedeploy: false, allowDowngrade: false, reason: '   ' })).toEqual({ version: '1.0.0', trigger: 'cli' });
  });

  test.each(['detach-vpc', 'drift-check'] as const)('operation %s is put in the input', (operation) => {
    expect(buildStartInput({ operation })).toEqual({ operation, trigger: 'cli' });
  });

  test('an unknown operation is refused', () => {
    expect(failure(() => buildStartInput({ operation: 'destroy' as never })).message).toBe('--operation must be one of deploy, detach-vpc, drift-check');
  });
});

describe('validateStartInput with the execution input schema', () => {
  test.each([
    { version: '0.9.0', trigger: 'cli' },
    { bundleKey: 'releases/gateway-0.9.0.zip', bundleSha256: SHA, expectedAgentVersion: '0.16.20', reason: 'r', trigger: 'cli' },
    { version: '1.0.0-rc.1', bundleKey: 'releases/gateway-1.0.0-rc.1.zip', allowRedeploy: true, trigger: 'cli' },
    { operation: 'drift-check', trigger: 'cli' },
    { operation: 'detach-vpc', reason: 'VPC handed to the network team', trigger: 'cli' },
  ])('accepts %j', (input) => {
    expect(() => validateStartInput(input)).not.toThrow();
  });

  test('a deploy without version or bundle key: which flag to give', () => {
    expect(failure(() => validateStartInput({ trigger: 'cli' })).message).toBe(
      'give the bundle to deploy: --version <semver> (e.g. 0.8.1) or --bundle-key <s3 key> (e.g. releases/gateway-0.8.1.zip)',
    );
  });

  test('schema problems name the flag, all at once, exit 1', () => {
    const error = failure(() => validateStartInput({ version: '0.9.0', bundleSha256: 'abc', expectedAgentVersion: 'not a tag!', trigger: 'cli' }));
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(
      ['execution input is invalid:', '- --sha256 (bundleSha256): must be 64 hexadecimal characters', '- --expected-agent-version (expectedAgentVersion): must be an image tag such as 0.16.20'].join('\n'),
    );
  });

  test('a reason over 500 characters', () => {
    expect(failure(() => validateStartInput({ version: '0.9.0', reason: 'x'.repeat(501), trigger: 'cli' })).message).toContain('- --reason (reason):');
  });

  test.each(['v0.9.0', '0.9', '0.9.0+build'])('a version that is not canonical semver (%s)', (version) => {
    expect(failure(() => validateStartInput({ version, trigger: 'cli' })).message).toContain(`- --version (version): "${version}" is not a semantic version such as 0.8.1`);
  });

  test('a bundle key not named gateway-<version>.zip', () => {
    expect(failure(() => validateStartInput({ bundleKey: 'releases/gw.zip', trigger: 'cli' })).message).toContain('- --bundle-key (bundleKey): "releases/gw.zip" is not named gateway-<version>.zip');
  });

  test('a version that disagrees with the bundle key', () => {
    expect(failure(() => validateStartInput({ version: '0.9.0', bundleKey: 'releases/gateway-0.8.1.zip', trigger: 'cli' })).message).toContain(
      '- --version (version): "0.9.0" does not match --bundle-key "releases/gateway-0.8.1.zip" (0.8.1)',
    );
  });
});

describe('validateStartInput with a schema that does not know "operation" yet', () => {
  // The shape of the schema before `operation` was added: strict, and a deploy needs a version or bundle key.
  const older = z
    .strictObject({
      version: z.string().optional(),
      bundleKey: z.string().min(1).optional(),
      bundleSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hexadecimal characters').optional(),
      reason: z.string().max(500).optional(),
      trigger: z.enum(['console', 'cli', 's3']).default('console'),
    })
    .refine((i) => i.version !== undefined || i.bundleKey !== undefined, { message: 'give "version" or "bundleKey"' });

  test('the other fields are still checked', () => {
    expect(failure(() => validateStartInput({ operation: 'drift-check', bundleSha256: 'abc', trigger: 'cli' }, older)).message).toBe(
      'execution input is invalid:\n- --sha256 (bundleSha256): must be 64 hexadecimal characters',
    );
  });

  test('"operation" itself is not reported as unknown, and the deploy-only rule is left to the run', () => {
    expect(() => validateStartInput({ operation: 'drift-check', trigger: 'cli' }, older)).not.toThrow();
  });

  test('a field it does not know besides operation is still refused', () => {
    expect(failure(() => validateStartInput({ operation: 'drift-check', misspelt: true, trigger: 'cli' }, older)).message).toBe(
      'execution input is invalid:\n- misspelt: unknown field',
    );
  });
});

describe('versionInBundleKey', () => {
  test.each([
    ['releases/gateway-0.9.0.zip', '0.9.0'],
    ['gateway-1.0.0-rc.1.zip', '1.0.0-rc.1'],
    ['a/b/gateway-2.0.0.zip', '2.0.0'],
    ['releases/gateway-0.9.zip', undefined],
    ['releases/other-0.9.0.zip', undefined],
    ['releases/gateway-0.9.0.tar.gz', undefined],
  ])('%s → %s', (key, version) => expect(versionInBundleKey(key)).toBe(version));
});

describe('executionNameFor', () => {
  const now = new Date('2024-06-01T09:30:05.123Z');

  test('cli-<version, dots as dashes>-<UTC yyyymmddhhmmss>', () => {
    expect(executionNameFor({ version: '0.9.0' }, now)).toBe('cli-0-9-0-20240601093005');
  });

  test('a pre-release version', () => {
    expect(executionNameFor({ version: '1.0.0-rc.1' }, now)).toBe('cli-1-0-0-rc-1-20240601093005');
  });

  test('the version from a bundle key', () => {
    expect(executionNameFor({ bundleKey: 'releases/gateway-0.8.1.zip' }, now)).toBe('cli-0-8-1-20240601093005');
  });

  test('another operation is named, with or without a version', () => {
    expect(executionNameFor({ operation: 'drift-check' }, now)).toBe('cli-drift-check-20240601093005');
    expect(executionNameFor({ operation: 'detach-vpc', version: '0.9.0' }, now)).toBe('cli-detach-vpc-0-9-0-20240601093005');
    expect(executionNameFor({ operation: 'deploy', version: '0.9.0' }, now)).toBe('cli-0-9-0-20240601093005');
  });

  test('an odd bundle name is made valid', () => {
    expect(executionNameFor({ bundleKey: 'releases/my bundle (copy).zip' }, now)).toBe('cli-my-bundle-copy-20240601093005');
  });

  test('a very long version is cut so the name stays within 80 characters, timestamp kept', () => {
    const name = executionNameFor({ version: `1.0.0-${'a'.repeat(120)}` }, now);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(EXECUTION_NAME);
    expect(name.endsWith('-20240601093005')).toBe(true);
  });

  test.each([{ version: '0.9.0' }, { bundleKey: 'x/gateway-9.9.9.zip' }, { operation: 'drift-check' }, { bundleKey: '../../weird/../name.zip' }])(
    'always a valid Step Functions name (%j)',
    (input) => expect(executionNameFor(input, now)).toMatch(EXECUTION_NAME),
  );
});

describe('consoleUrl', () => {
  test('the v2 execution details page in the execution region', () => {
    expect(consoleUrl('eu-central-1', ARN)).toBe(`https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1#/v2/executions/details/${ARN}`);
  });
});

describe('lockRefusal', () => {
  const lock = { executionArn: ARN, acquiredAt: '2024-06-01T09:00:00.000Z' };

  test('a RUNNING holder: "deployment in progress", exit 1', () => {
    const refusal = lockRefusal(lock, 'RUNNING');
    expect(refusal).toBeInstanceOf(OperatorError);
    expect(refusal?.message).toMatch(new RegExp(`^deployment in progress: ${ARN} \\(holds the lock since 2024-06-01T09:00:00.000Z\\)`));
    expect(refusal?.exitCode).toBe(1);
  });

  test.each(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT', 'PENDING_REDRIVE', 'MISSING'])('a %s holder does not block', (status) => {
    expect(lockRefusal(lock, status)).toBeNull();
  });

  test('no lock', () => expect(lockRefusal(null, undefined)).toBeNull());
});

describe('parseWholeNumber', () => {
  test.each([
    ['5', 5],
    [' 10 ', 10],
    ['1', 1],
    ['100', 100],
  ])('%j → %d', (text, n) => expect(parseWholeNumber(text, '--limit', 1, 100)).toBe(n));

  test.each(['0', '101', '-1', '2.5', 'five', '', '1e2'])('%j is refused', (text) => {
    expect(failure(() => parseWholeNumber(text, '--limit', 1, 100)).message).toBe(`--limit must be a whole number from 1 to 100, not "${text}"`);
  });
});
