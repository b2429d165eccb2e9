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
