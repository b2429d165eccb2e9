/** `npm run rehearse` checks its arguments before it starts anything: each problem names the flag, exit code 2. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OperatorError } from '../../lambdas/shared/operator/cli-commands';
import { checkRehearsalArguments } from '../../lambdas/shared/operator/rehearsal-arguments';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rehearse-args-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};
const allTools = { onPath: () => true };

function refusal(run: () => unknown): OperatorError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as OperatorError).exitCode).toBe(2);
    return error as OperatorError;
  }
  throw new Error('expected a refusal');
}

test('nothing given: nothing to check, the defaults apply', () => {
  expect(checkRehearsalArguments({}, allTools)).toEqual({});
});

test('a bundle, values, config and an input file are read and resolved', () => {
  const bundle = file('gateway-1.2.3.zip', 'zip');
  const values = file('values.yaml', 'tenant: t\n');
  const config = file('gw.yaml', 'gatewayName: gw\n');
  const input = file('in.json', '{ "version": "1.2.3" }');
  expect(checkRehearsalArguments({ bundle, values, config, input }, allTools)).toEqual({ bundlePath: bundle, valuesYaml: 'tenant: t\n', configPath: config, input: { version: '1.2.3' } });
  expect(checkRehearsalArguments({ input: '{"version":"1.2.3"}' }, allTools).input).toEqual({ version: '1.2.3' });
});

test.each([
  ['a missing bundle', { bundle: path.join(os.tmpdir(), 'nope', 'gateway-1.zip') }, '--bundle '],
  ['a bundle not named gateway-<version>.zip', { bundle: 'RENAMED' }, 'must be named gateway-<version>.zip'],
  ['missing values', { values: 'nope.yaml' }, '--values nope.yaml: no such file'],
  ['a folder as config', { config: os.tmpdir() }, 'not a file'],
  ['an input that is neither JSON nor a file', { input: 'in.json' }, '--input in.json: neither a JSON object nor a file'],
  ['an input that is broken JSON', { input: '{"version":' }, '--input is not valid JSON'],
] as Array<[string, { bundle?: string; values?: string; config?: string; input?: string }, string]>)('%s is named', (_what, given, message) => {
  const args = given.bundle === 'RENAMED' ? { bundle: file('bundle.zip', 'zip') } : given;
  expect(refusal(() => checkRehearsalArguments(args, allTools)).message).toContain(message);
});

test('a missing tool is named with how to get it, before anything starts', () => {
  const error = refusal(() => checkRehearsalArguments({}, { onPath: (c) => c !== 'terraform' }));
  expect(error.message).toBe('terraform is not on PATH: install Terraform 1.11.4 (the machine image has it at /usr/local/bin/terraform)');
});
