/** `--input` as the AWS CLI takes JSON: inline, file://path, - for standard input (rehearsal and `start`). */
import * as path from 'node:path';
import { readInputArgument, type InputSources } from '../../lambdas/shared/operator/input-argument';
import { buildStartInput, OperatorError } from '../../lambdas/shared/operator/cli-commands';

const files = (entries: Record<string, string>, stdin = ''): InputSources => ({
  readFile: (file) => entries[file],
  readStdin: () => stdin,
});
const abs = (file: string) => path.resolve(file);

const refusal = (run: () => unknown): OperatorError => {
  try {
    run();
  } catch (error) {
    return error as OperatorError;
  }
  throw new Error('expected a refusal');
};

test('inline JSON is the input', () => {
  expect(readInputArgument('--input', ' {"version": "0.8.1"} ', files({}))).toEqual({ version: '0.8.1' });
});

test('file://relative and file:///absolute are read', () => {
  const sources = files({ [abs('in.json')]: '{"version":"0.8.1"}', '/srv/in.json': '{"version":"0.9.0"}' });
  expect(readInputArgument('--input', 'file://in.json', sources)).toEqual({ version: '0.8.1' });
  expect(readInputArgument('--input', 'file:///srv/in.json', sources)).toEqual({ version: '0.9.0' });
});

test('- reads standard input', () => {
  expect(readInputArgument('--input', '-', files({}, '{"operation":"drift-check"}\n'))).toEqual({ operation: 'drift-check' });
});

test('a bare path that names a file is read too', () => {
  expect(readInputArgument('--input', 'in.json', files({ [abs('in.json')]: '{"version":"0.8.1"}' }))).toEqual({ version: '0.8.1' });
});

test('a missing file:// file is named, exit 2', () => {
  const e = refusal(() => readInputArgument('--input', 'file://nope.json', files({})));
  expect(e.message).toBe(`--input file://nope.json: no such file (${abs('nope.json')})`);
  expect(e.exitCode).toBe(2);
});

test('neither JSON nor a file: says what it takes', () => {
  expect(refusal(() => readInputArgument('--input', 'version=0.8.1', files({}))).message).toContain('give JSON, file://path or - for standard input');
});

test('broken JSON names where it came from', () => {
  expect(refusal(() => readInputArgument('--input', '-', files({}, '{"version": '))).message).toMatch(/^--input \(standard input\) is not valid JSON: /);
  expect(refusal(() => readInputArgument('--input', '{"version": ', files({}))).message).toMatch(/^--input is not valid JSON: /);
});

test('an array or a string is not an execution input', () => {
  expect(refusal(() => readInputArgument('--input', '-', files({}, '["0.8.1"]'))).message).toBe('--input (standard input) must be a JSON object such as {"version": "0.8.1"}');
  expect(refusal(() => readInputArgument('--input', '-', files({}, '"0.8.1"'))).exitCode).toBe(2);
});

test('start --input: the input as given, started by the CLI', () => {
  expect(buildStartInput({ input: { version: '0.8.1', reason: 'CAB-12' } })).toEqual({ version: '0.8.1', reason: 'CAB-12', trigger: 'cli' });
  expect(buildStartInput({ input: { version: '0.8.1', trigger: 'cli' } })).toEqual({ version: '0.8.1', trigger: 'cli' });
});

test('start --input cannot pose as another trigger (the s3 trigger has its own proof)', () => {
  const e = refusal(() => buildStartInput({ input: { version: '0.8.1', trigger: 's3' } }));
  expect(e.message).toBe('--input: trigger "s3" is not for an operator to set; leave it out (the CLI sets "cli")');
  expect(e.exitCode).toBe(2);
});
