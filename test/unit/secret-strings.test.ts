import { parseValues, secretStrings } from '../../lambdas/shared/domain/values';
import { CANARY, valuesYaml } from '../support/values-fixtures';

const SECRET = 'gateways/prod/values';
const values = (text: string) => parseValues(text, SECRET);

describe('secretStrings', () => {
  test('the canary values: every value the operator pastes', () => {
    expect(secretStrings(values(valuesYaml())).sort()).toEqual(Object.values(CANARY).sort());
  });

  test('the four credentials are included even when short (3 characters)', () => {
    const strings = secretStrings(
      values(valuesYaml({ clientId: 'cid', clientSecret: 'sec4', helmRepoUsername: 'bob', helmRepoPassword: 'pw1' })),
    );
    expect(strings).toEqual(expect.arrayContaining(['cid', 'sec4', 'bob', 'pw1']));
  });

  test('a credential shorter than 3 characters is not (it would redact ordinary text)', () => {
    const strings = secretStrings(values(valuesYaml({ helmRepoPassword: 'pw' })));
    expect(strings).not.toContain('pw');
    expect(strings).toContain(CANARY.helmRepoUsername);
  });

  test('other strings count from 6 characters; shorter ones are left out', () => {
    const strings = secretStrings(values(valuesYaml({ tenant: 'tenant', domain: 'a.io' }) + 'region: eu-west\nzone: short\nmode: s3\nflag: "true"\n'));
    expect(strings).toContain('tenant');
    expect(strings).toContain('eu-west');
    expect(strings).not.toContain('a.io');
    expect(strings).not.toContain('short');
    expect(strings).not.toContain('s3');
    expect(strings).not.toContain('true');
  });

  test('walks nested lists and maps, including unknown keys; numbers and booleans are not strings', () => {
    const text =
      valuesYaml() +
      [
        'extra:',
        '  list:',
        '    - first-long-value',
        '    - tiny',
        '    - deep: {inner: [nested-list-secret, {x: map-in-list-value}]}',
        '  map:',
        '    a:',
        '      b: nested-map-value',
        '  port: 123456789',
        '  enabled: true',
        'auth2: {token: top-level-token}',
        '',
      ].join('\n');
    const strings = secretStrings(values(text));
    expect(strings).toEqual(
      expect.arrayContaining(['first-long-value', 'nested-list-secret', 'map-in-list-value', 'nested-map-value', 'top-level-token']),
    );
    expect(strings).not.toContain('tiny');
    expect(strings).not.toContain('123456789');
    expect(strings.every((s) => typeof s === 'string')).toBe(true);
  });

  test('keys are not secrets, only values', () => {
    const strings = secretStrings(values(valuesYaml() + 'someLongKeyName: v\n'));
    expect(strings).not.toContain('someLongKeyName');
    expect(strings).not.toContain('orchestrator');
  });

  test('each string once, even when it appears in several places', () => {
    const strings = secretStrings(values(valuesYaml({ helmRepoUsername: JSON.stringify(CANARY.clientId) }) + `copy: ${CANARY.clientId}\n`));
    expect(strings.filter((s) => s === CANARY.clientId)).toHaveLength(1);
  });

  test('an aliased node counts like its anchor, and shared nodes are walked once', () => {
    // 20 aliases, each level three times the one below: 3^6 copies of the leaf if every alias were walked.
    const levels = ['l0: &l0 [aliased-secret-value]'];
    for (let i = 1; i <= 6; i++) levels.push(`l${i}: &l${i} [*l${i - 1}, *l${i - 1}, *l${i - 1}]`);
    const text = `${valuesYaml()}${levels.join('\n')}\ntop: [*l6, *l6]\n`;
    expect(secretStrings(values(text))).toEqual(expect.arrayContaining(['aliased-secret-value', CANARY.helmRepoPassword]));
    expect(secretStrings(values(text)).filter((s) => s === 'aliased-secret-value')).toHaveLength(1);
  });

  test('minLength changes the threshold for other strings but never drops a credential', () => {
    const v = values(valuesYaml({ helmRepoPassword: '"pw1"', tenant: '"tenant-1"' }) + 'other: abcdefghi\n');
    const strings = secretStrings(v, 10);
    expect(strings).toContain('pw1');
    expect(strings).toContain(CANARY.clientSecret);
    expect(strings).not.toContain('tenant-1');
    expect(strings).not.toContain('abcdefghi');
    expect(secretStrings(v, 9)).toContain('abcdefghi');
  });
});
