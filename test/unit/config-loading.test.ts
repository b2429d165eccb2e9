import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLE_CONFIG, loadGatewayConfig } from '../../lib/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

test('without a path, the built-in example is used', () => {
  const { config, source } = loadGatewayConfig(undefined);
  expect(source).toBe('built-in example');
  expect(config.gatewayName).toBe(EXAMPLE_CONFIG.gatewayName);
  expect(config.terraform.version).toBe('1.11.4');
});

test('a YAML file is read and defaults filled', () => {
  const file = write('ok.yaml', 'gatewayName: prod\ntarget: { account: "111122223333", region: eu-west-1 }\nvaluesSecretName: prod/values\napproval: { approvers: ["arn:aws:iam::111122223333:role/GatewayOperator"] }\n');
  const { config, source } = loadGatewayConfig(file);
  expect(source).toBe(file);
  expect(config).toMatchObject({ gatewayName: 'prod', target: { account: '111122223333' }, backend: { useLockfile: true } });
});

test('a JSON file is read', () => {
  const file = write('ok.json', JSON.stringify({ gatewayName: 'prod', target: { account: '111122223333', region: 'eu-west-1' }, valuesSecretName: 'v', approval: { approvers: ['arn:aws:iam::111122223333:role/GatewayOperator'] } }));
  expect(loadGatewayConfig(file).config.gatewayName).toBe('prod');
});

test('a missing file is named', () => {
  expect(() => loadGatewayConfig(path.join(dir, 'nope.yaml'))).toThrow(/nope\.yaml does not exist/);
});

test('a file that does not parse is named with its format', () => {
  const file = write('bad.json', '{ "gatewayName": ');
  expect(() => loadGatewayConfig(file)).toThrow(/bad\.json is not valid JSON/);
});

test('an invalid config names the file and the field', () => {
  const file = write('wrong.yaml', 'gatewayName: prod\ntarget: { account: "12", region: eu-west-1 }\nvaluesSecretName: v\n');
  expect(() => loadGatewayConfig(file)).toThrow(/wrong\.yaml is invalid:\n- target\.account: must be a 12-digit AWS account id/);
});

test('a region AWS does not have is refused at synth, with the closest one suggested', () => {
  const file = write('region.yaml', 'gatewayName: prod\ntarget: { account: "111122223333", region: eu-centrl-1 }\nvaluesSecretName: v\napproval: { approvers: ["arn:aws:iam::111122223333:role/Ops"] }\n');
  expect(() => loadGatewayConfig(file)).toThrow(`gateway config ${file} is invalid:\n- target.region: eu-centrl-1 is not an AWS region; did you mean eu-central-1?`);
});

test('a real but distant region name gets no suggestion', () => {
  const file = write('far.yaml', 'gatewayName: prod\ntarget: { account: "111122223333", region: xx-nowhere-9 }\nvaluesSecretName: v\napproval: { approvers: ["arn:aws:iam::111122223333:role/Ops"] }\n');
  expect(() => loadGatewayConfig(file)).toThrow(/- target.region: xx-nowhere-9 is not an AWS region$/m);
});

test('the CDK app prints a bad config\'s message and exits 1, without a stack trace', () => {
  const file = write('app.yaml', 'gatewayName: prod\ntarget: { account: 111122223333, region: eu-central-1 }\n');
  const root = path.join(__dirname, '..', '..');
  const out = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(root, 'bin', 'app.ts')], {
    cwd: root,
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ gatewayConfig: file }) },
    encoding: 'utf-8',
    timeout: 60_000,
  });
  expect(out.status).toBe(1);
  expect(out.stderr).toContain('- target.account: expected text, not a number: quote it');
  expect(out.stderr).toContain('- valuesSecretName: required');
  expect(out.stderr).not.toMatch(/^\s+at /m);
});
