import { ValuesError } from '../../lambdas/shared/domain/errors';
import { PLACEHOLDERS, parseValues } from '../../lambdas/shared/domain/values';
import { CANARY, expectNoCanary, valuesYaml } from '../support/values-fixtures';

const SECRET = 'gateways/prod/values';

function errorOf(text: string | undefined): ValuesError {
  try {
    parseValues(text, SECRET);
  } catch (e) {
    expect(e).toBeInstanceOf(ValuesError);
    return e as ValuesError;
  }
  throw new Error('expected parseValues to throw');
}

describe('parseValues: valid values', () => {
  test('the seed layout with real-looking values passes', () => {
    const text = [
      'tenant: "b7c2e9d0-5a1f-4e3b-9c8d-2f6a1e0b3c4d"',
      'auth:',
      '  domain: auth.app.apheris.net',
      '  orchestrator:',
      '    clientId: "gw-client-8f2a7c"',
      '    clientSecret: "Zq8rT2vX9mK4pL7nW3yB6cD1fG5hJ0sA"',
      'helmRepoUsername: "robot$apheris+acme"',
      'helmRepoPassword: "hR7!kP2@qW9#xM4$"',
      '',
    ].join('\n');
    expect(parseValues(text, SECRET)).toEqual({
      tenant: 'b7c2e9d0-5a1f-4e3b-9c8d-2f6a1e0b3c4d',
      auth: { domain: 'auth.app.apheris.net', orchestrator: { clientId: 'gw-client-8f2a7c', clientSecret: 'Zq8rT2vX9mK4pL7nW3yB6cD1fG5hJ0sA' } },
      helmRepoUsername: 'robot$apheris+acme',
      helmRepoPassword: 'hR7!kP2@qW9#xM4$',
    });
  });

  test('the canary values pass', () => {
    const values = parseValues(valuesYaml(), SECRET);
    expect(values.auth.orchestrator.clientSecret).toBe(CANARY.clientSecret);
    expect(values.helmRepoPassword).toBe(CANARY.helmRepoPassword);
  });

  test('extra keys are kept (the Helm chart owns the rest of values.yaml)', () => {
    const text = `${valuesYaml()}image:\n  tag: 0.16.20\nauthExtra: 1\n`;
    const values = parseValues(text, SECRET) as Record<string, unknown>;
    expect(values.image).toEqual({ tag: '0.16.20' });
  });

  test('surrounding whitespace in a value is trimmed', () => {
    expect(parseValues(valuesYaml({ tenant: '"  acme-tenant  "' }), SECRET).tenant).toBe('acme-tenant');
  });

  test('a YAML comment and document start marker are fine', () => {
    expect(parseValues(`# from Bitwarden\n---\n${valuesYaml()}`, SECRET).tenant).toBe(CANARY.tenant);
  });
});

describe('parseValues: missing, empty and wrong-typed keys', () => {
  test.each([
    ['tenant', { tenant: null }],
    ['auth.domain', { domain: null }],
    ['auth.orchestrator.clientId', { clientId: null }],
    ['auth.orchestrator.clientSecret', { clientSecret: null }],
    ['helmRepoUsername', { helmRepoUsername: null }],
    ['helmRepoPassword', { helmRepoPassword: null }],
  ] as const)('missing %s is named', (path, overrides) => {
    const error = errorOf(valuesYaml(overrides));
    expect(error.message).toContain(`values secret "${SECRET}" is incomplete`);
    expect(error.message).toContain(`- ${path}: is missing or not a string`);
    expectNoCanary(error.message);
  });

  test.each([
    ['tenant', { tenant: '""' }],
    ['auth.domain', { domain: '""' }],
    ['auth.orchestrator.clientId', { clientId: "''" }],
    ['auth.orchestrator.clientSecret', { clientSecret: '""' }],
    ['helmRepoUsername', { helmRepoUsername: '""' }],
    ['helmRepoPassword', { helmRepoPassword: '""' }],
  ] as const)('empty %s is named', (path, overrides) => {
    const error = errorOf(valuesYaml(overrides));
    expect(error.message).toContain(`- ${path}: is empty`);
    expectNoCanary(error.message);
  });

  test.each([
    ['tenant', { tenant: '"   "' }],
    ['auth.orchestrator.clientSecret', { clientSecret: '"\\t  "' }],
    ['helmRepoPassword', { helmRepoPassword: '" "' }],
  ] as const)('whitespace-only %s is empty', (path, overrides) => {
    const error = errorOf(valuesYaml(overrides));
    expect(error.message).toContain(`- ${path}: is empty`);
    expectNoCanary(error.message);
  });

  test.each([
    ['tenant', { tenant: '12345' }],
    ['tenant', { tenant: '[a, b]' }],
    ['auth.domain', { domain: 'true' }],
    ['auth.orchestrator.clientId', { clientId: '42' }],
    ['auth.orchestrator.clientSecret', { clientSecret: `[${JSON.stringify(CANARY.clientSecret)}]` }],
    ['auth.orchestrator.clientSecret', { clientSecret: `{ value: ${JSON.stringify(CANARY.clientSecret)} }` }],
    ['helmRepoUsername', { helmRepoUsername: '~' }],
    ['helmRepoPassword', { helmRepoPassword: '1234567890' }],
    ['helmRepoPassword', { helmRepoPassword: `[${JSON.stringify(CANARY.helmRepoPassword)}]` }],
  ] as const)('a non-string %s is named (%j)', (path, overrides) => {
    const error = errorOf(valuesYaml(overrides));
    expect(error.message).toContain(`- ${path}: is missing or not a string`);
    expectNoCanary(error.message);
  });

  test.each([
    ['a string', `tenant: t\nauth: ${JSON.stringify(CANARY.clientSecret)}\nhelmRepoUsername: u\nhelmRepoPassword: p\n`],
    ['a list', `tenant: t\nauth:\n  - ${CANARY.clientSecret}\nhelmRepoUsername: u\nhelmRepoPassword: p\n`],
    ['missing', 'tenant: t\nhelmRepoUsername: u\nhelmRepoPassword: p\n'],
  ])('auth as %s is "not a mapping"', (_, text) => {
    const error = errorOf(text);
    expect(error.message).toContain('- auth: is missing or not a mapping');
    expectNoCanary(error.message);
  });

  test('auth.orchestrator not a mapping is named', () => {
    const text = `tenant: t\nauth:\n  domain: d\n  orchestrator: ${JSON.stringify(CANARY.clientSecret)}\nhelmRepoUsername: u\nhelmRepoPassword: p\n`;
    const error = errorOf(text);
    expect(error.message).toContain('- auth.orchestrator: is missing or not a mapping');
    expectNoCanary(error.message);
  });

  test('every problem is listed, one per line', () => {
    const error = errorOf(valuesYaml({ tenant: null, clientSecret: '""', helmRepoPassword: '7' }));
    const lines = error.message.split('\n').slice(1);
    expect(lines).toEqual([
      '- tenant: is missing or not a string',
      '- auth.orchestrator.clientSecret: is empty',
      '- helmRepoPassword: is missing or not a string',
    ]);
    expectNoCanary(error.message);
  });
});

describe('parseValues: the HOWTO example values', () => {
  test('the seed example verbatim is refused, naming every placeholder', () => {
    const seed = [
      'tenant: "tenantID"',
      'auth:',
      '  domain: auth.app.apheris.net',
      '  orchestrator:',
      '    clientId: "clientId"',
      '    clientSecret: "clientSecret"',
      'helmRepoUsername: "helmRepoUsername"',
      'helmRepoPassword: "helmRepoPassword"',
    ].join('\n');
    const error = errorOf(seed);
    expect(error.message).toContain(`values secret "${SECRET}" still holds the HOWTO's example values at`);
    for (const path of Object.keys(PLACEHOLDERS)) expect(error.message).toContain(path);
    expect(error.message).toContain('tenant, auth.orchestrator.clientId, auth.orchestrator.clientSecret, helmRepoUsername, helmRepoPassword');
  });

  test.each([
    ['tenant', { tenant: '"tenantID"' }],
    ['auth.orchestrator.clientId', { clientId: 'clientId' }],
    ['auth.orchestrator.clientSecret', { clientSecret: '"clientSecret"' }],
    ['helmRepoUsername', { helmRepoUsername: 'helmRepoUsername' }],
    ['helmRepoPassword', { helmRepoPassword: '"helmRepoPassword"' }],
  ] as const)('the placeholder left at %s is named', (path, overrides) => {
    const error = errorOf(valuesYaml(overrides));
    expect(error.message).toMatch(new RegExp(`example values at ${path.replace(/\./g, '\\.')}; paste the values\\.yaml`));
    expectNoCanary(error.message);
  });

  test('a placeholder with surrounding spaces is still a placeholder', () => {
    const error = errorOf(valuesYaml({ clientSecret: '"  clientSecret "' }));
    expect(error.message).toContain('example values at auth.orchestrator.clientSecret;');
  });

  test('the PLACEHOLDERS table holds exactly the seed literal values', () => {
    expect(PLACEHOLDERS).toEqual({
      tenant: 'tenantID',
      'auth.orchestrator.clientId': 'clientId',
      'auth.orchestrator.clientSecret': 'clientSecret',
      helmRepoUsername: 'helmRepoUsername',
      helmRepoPassword: 'helmRepoPassword',
    });
  });

  test('a value that merely contains a placeholder word is fine', () => {
    expect(() => parseValues(valuesYaml({ clientId: 'clientId-prod-1' }), SECRET)).not.toThrow();
  });
});

describe('parseValues: not YAML, not a mapping, empty', () => {
  test.each([
    ['undefined', undefined],
    ['empty', ''],
    ['whitespace', '  \n\t\n'],
  ])('%s text is refused as empty', (_, text) => {
    const error = errorOf(text);
    expect(error.message).toContain(`values secret "${SECRET}" is empty`);
    expect(error.message).toContain('SecretString');
  });

  test.each([
    ['unterminated double quote around a password', valuesYaml({ helmRepoPassword: `"${CANARY.helmRepoPassword}` })],
    ['unterminated single quote around a client secret', valuesYaml({ clientSecret: `'${CANARY.clientSecret}` })],
    ['nested compact mapping in the client secret line', valuesYaml({ clientSecret: `${CANARY.clientSecret}: x: y` })],
    ['bad indentation next to the secret', `tenant: t\nauth:\n  orchestrator:\n    clientSecret: ${CANARY.clientSecret}\n   clientId: ${CANARY.clientId}\n`],
    ['unclosed flow sequence', `helmRepoPassword: [${CANARY.helmRepoPassword}\n`],
    ['tab indentation', `auth:\n\tclientSecret: ${CANARY.clientSecret}\n`],
  ])('invalid YAML (%s) is refused without echoing the line', (_, text) => {
    const error = errorOf(text);
    expect(error.message).toContain(`values secret "${SECRET}" is not valid YAML`);
    expectNoCanary(error.message);
  });

  // Regression (found by these tests, fixed): parseDocument is called with prettyErrors: false, so the yaml library never fills in
  // `linePos` and the message carries only error codes ("MISSING_CHAR"), although the code means to report
  // "line N column M". Expected: the position of the broken line, still without its text.
  test('invalid YAML names the line of the problem (never its text)', () => {
    const text = `tenant: t\nhelmRepoPassword: "${CANARY.helmRepoPassword}\n`;
    const error = errorOf(text);
    // The parser reports an unterminated quote where it notices it: at the end of the input.
    expect(error.message).toMatch(/is not valid YAML: line 3 column \d+ \([a-z][^)]*\)$/);
    expectNoCanary(error.message);
  });

  test('duplicate keys are refused', () => {
    const text = `${valuesYaml()}helmRepoPassword: ${JSON.stringify(`${CANARY.helmRepoPassword}-2`)}\n`;
    const error = errorOf(text);
    expect(error.message).toContain('is not valid YAML: line 9 column 1 (duplicated mapping key)');
    expectNoCanary(error.message);
  });

  test('a nested duplicate key is refused at its line', () => {
    const text = valuesYaml().replace('  orchestrator:\n', `  orchestrator:\n    clientSecret: ${CANARY.clientSecret}-old\n`);
    const error = errorOf(text);
    expect(error.message).toMatch(/is not valid YAML: line 7 column 5 \(duplicated mapping key\)/);
    expectNoCanary(error.message);
  });

  test.each([
    ['an unknown tag', `${valuesYaml()}extra: !${CANARY.clientSecret} x\n`, 'unknown scalar tag'],
    ['an unknown alias', `${valuesYaml()}extra: *${CANARY.clientSecret}\n`, 'unidentified alias'],
    ['an undeclared tag handle', `${valuesYaml()}extra: !${CANARY.helmRepoPassword}!x y\n`, 'undeclared tag handle'],
  ])('%s is refused by position and reason, without the name from the text', (_, text, reason) => {
    const error = errorOf(text);
    expect(error.message).toMatch(new RegExp(`is not valid YAML: line 9 column \\d+ \\(${reason}\\)$`));
    expectNoCanary(error.message);
  });

  test('anchors and a few aliases are fine', () => {
    const text = `${valuesYaml()}defaults: &defaults\n  cpu: 2\nagent: *defaults\njob: *defaults\n`;
    expect((parseValues(text, SECRET) as Record<string, unknown>).job).toEqual({ cpu: 2 });
  });

  test('more than one YAML document is refused', () => {
    const error = errorOf(`${valuesYaml()}---\nclientSecret: ${CANARY.clientSecret}\n`);
    expect(error.message).toContain('is not valid YAML');
    expectNoCanary(error.message);
  });

  test.each([
    ['a top-level list', `- ${CANARY.clientSecret}\n- ${CANARY.helmRepoPassword}\n`],
    ['a bare string', `${CANARY.clientSecret}\n`],
    ['a number', '42\n'],
    ['null', '~\n'],
    ['only a comment', `# ${CANARY.clientSecret}\n`],
  ])('%s is refused as not a mapping', (_, text) => {
    const error = errorOf(text);
    expect(error.message).toContain(`values secret "${SECRET}" must be a YAML mapping`);
    expectNoCanary(error.message);
  });

  // Regression (found by these tests, fixed): an alias bomb makes yaml's toJS() throw a plain ReferenceError, which escapes parseValues
  // untyped instead of as a ValuesError. Expected: ValuesError naming the secret.
  test('an alias bomb is refused as a ValuesError', () => {
    const text = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      '',
    ].join('\n');
    expect(() => parseValues(text, SECRET)).toThrow(ValuesError);
    expect(() => parseValues(text, SECRET)).toThrow(`values secret "${SECRET}" uses more than 20 YAML aliases`);
  });
});

describe('parseValues: the secret never appears in a message', () => {
  const failing: Array<[string, string]> = [
    ['missing tenant', valuesYaml({ tenant: null })],
    ['missing domain', valuesYaml({ domain: null })],
    ['missing clientId', valuesYaml({ clientId: null })],
    ['missing clientSecret', valuesYaml({ clientSecret: null })],
    ['missing helmRepoUsername', valuesYaml({ helmRepoUsername: null })],
    ['missing helmRepoPassword', valuesYaml({ helmRepoPassword: null })],
    ['numeric password', valuesYaml({ helmRepoPassword: '9876543210' })],
    ['list secret', valuesYaml({ clientSecret: `[${CANARY.clientSecret}]` })],
    ['mapping secret', valuesYaml({ clientSecret: `{ ${CANARY.clientSecret}: 1 }` })],
    ['placeholder tenant', valuesYaml({ tenant: 'tenantID' })],
    ['placeholder password', valuesYaml({ helmRepoPassword: 'helmRepoPassword' })],
    ['unterminated password', valuesYaml({ helmRepoPassword: `"${CANARY.helmRepoPassword}` })],
    ['compact mapping secret', valuesYaml({ clientSecret: `${CANARY.clientSecret}: x: y` })],
    ['duplicate secret key', `${valuesYaml()}    clientSecret: ${CANARY.clientSecret}\n`],
    ['duplicate password key', `${valuesYaml()}helmRepoPassword: ${CANARY.helmRepoPassword}\n`],
    ['secret as a key', `${CANARY.clientSecret}: x\n${CANARY.helmRepoPassword}: y\n`],
    ['top-level list', `- ${CANARY.clientSecret}\n`],
    ['auth as a string', `tenant: ${CANARY.tenant}\nauth: ${CANARY.clientSecret}\n`],
  ];

  test.each(failing)('%s', (_, text) => {
    const error = errorOf(text);
    expectNoCanary(error.message);
    expectNoCanary(String(error.stack));
  });
});
