import { parseValues, secretStrings } from '../../lambdas/shared/domain/values';
import { CANARY, valuesYaml } from '../support/values-fixtures';

const SECRET = 'gateways/prod/values';
const values = (text: string) => parseValues(text, SECRET);

const CREDENTIALS = [CANARY.clientId, CANARY.clientSecret, CANARY.helmRepoUsername, CANARY.helmRepoPassword];

describe('secretStrings: redaction by kind', () => {
  test('the four credentials and the Helm login as user:password; not the tenant or the auth domain', () => {
    expect(secretStrings(values(valuesYaml())).sort()).toEqual([...CREDENTIALS, `${CANARY.helmRepoUsername}:${CANARY.helmRepoPassword}`].sort());
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

  test('identifiers stay readable: tenant, auth.domain, hosts, regions, other plain settings', () => {
    const strings = secretStrings(values(valuesYaml() + 'region: eu-west-1\nhost: gw.example.com\nimage: quay.io/apheris/agent\n'));
    for (const plain of [CANARY.tenant, CANARY.domain, 'eu-west-1', 'gw.example.com', 'quay.io/apheris/agent']) expect(strings).not.toContain(plain);
  });

  test('everything under a key whose name says credential, at any depth, in lists and maps', () => {
    const text =
      valuesYaml() +
      [
        'extra:',
        '  database: {password: db-pass-value, host: db.internal}',
        '  apiKey: api-key-value',
        '  tokens: [first-token-value, {nested: nested-token-value}]',
        '  sso: {client_secret: sso-secret-value, privateKey: "-----BEGIN KEY-----\\nline-two-of-key\\n"}',
        '  port: 123456789',
        '',
      ].join('\n');
    const strings = secretStrings(values(text));
    expect(strings).toEqual(
      expect.arrayContaining(['db-pass-value', 'api-key-value', 'first-token-value', 'nested-token-value', 'sso-secret-value', 'line-two-of-key']),
    );
    expect(strings).not.toContain('db.internal');
    expect(strings).not.toContain('123456789');
  });

  test('a key the config marks secret (valuesSecretKeys, a dotted path) is redacted with everything under it', () => {
    const text = valuesYaml() + 'vendor:\n  license: license-text-value\n  plain: plain-value\n';
    expect(secretStrings(values(text))).not.toContain('license-text-value');
    const strings = secretStrings(values(text), ['vendor.license']);
    expect(strings).toContain('license-text-value');
    expect(strings).not.toContain('plain-value');
    expect(secretStrings(values(text), ['vendor'])).toEqual(expect.arrayContaining(['license-text-value', 'plain-value']));
  });

  test('keys are not secrets, only values', () => {
    const strings = secretStrings(values(valuesYaml() + 'someSecretKeyName: v1x\n'));
    expect(strings).toContain('v1x');
    expect(strings).not.toContain('someSecretKeyName');
    expect(strings).not.toContain('orchestrator');
  });

  test('each string once, even when it appears in several places', () => {
    const strings = secretStrings(values(valuesYaml({ helmRepoUsername: JSON.stringify(CANARY.clientId) }) + `copy: {token: ${CANARY.clientId}}\n`));
    expect(strings.filter((s) => s === CANARY.clientId)).toHaveLength(1);
  });

  test('an aliased node counts like its anchor, and shared nodes are walked once', () => {
    // 20 aliases, each level three times the one below: 3^6 copies of the leaf if every alias were walked.
    const levels = ['l0: &l0 [aliased-secret-value]'];
    for (let i = 1; i <= 6; i++) levels.push(`l${i}: &l${i} [*l${i - 1}, *l${i - 1}, *l${i - 1}]`);
    const text = `${valuesYaml()}${levels.join('\n')}\ntoken: [*l6, *l6]\n`;
    expect(secretStrings(values(text))).toEqual(expect.arrayContaining(['aliased-secret-value', CANARY.helmRepoPassword]));
    expect(secretStrings(values(text)).filter((s) => s === 'aliased-secret-value')).toHaveLength(1);
    // Not under a secret key anywhere: not a secret.
    expect(secretStrings(values(`${valuesYaml()}${levels.join('\n')}\ntop: [*l6]\n`))).not.toContain('aliased-secret-value');
  });
});
