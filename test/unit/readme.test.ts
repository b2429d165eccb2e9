/** Keeps the README true: its example config and console inputs are parsed by the same code as real ones. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { resolveExecutionInput } from '../../lambdas/shared/domain/execution-input';
import { parseGatewayConfig } from '../../lambdas/shared/domain/gateway-config';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf-8');

function section(title: string): string {
  const start = readme.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

function codeBlocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

test('the minimal configuration of the README is a valid config', () => {
  const [yamlBlock] = codeBlocks(section('Configuration'), 'yaml');
  const config = parseGatewayConfig(parseYaml(yamlBlock), 'README example');
  expect(config.module.additional_data_buckets).toEqual(['example-bucket']);
});

test('the full configuration reference (docs/configuration.md) is a valid config', () => {
  const reference = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf-8');
  const [yamlBlock] = codeBlocks(reference, 'yaml');
  const config = parseGatewayConfig(parseYaml(yamlBlock), 'docs/configuration.md example');
  expect(config.module.karpenter_node_pools?.['expensive-pool'].instance_families).toEqual(['p4d']);
  expect(config.helmValues.nodePoolMapping).toEqual({ '4': 'example.com/expensive', '8': 'example.com/expensive' });
  expect(config.releaseTrigger).toEqual({ allowPrereleases: false, maxMajorStep: 1 });
});

test('every console input example is accepted', () => {
  const inputs = codeBlocks(section('Starting a deployment (console input)'), 'json');
  expect(inputs.length).toBeGreaterThanOrEqual(3);
  for (const text of inputs) {
    expect(resolveExecutionInput(JSON.parse(text), 'releases/').bundleKey).toBe('releases/gateway-0.8.1.zip');
  }
});

test('the set-up section gives the two commands', () => {
  const setup = section('Set-up (two commands)');
  expect(setup).toContain('npm ci');
  expect(setup).toContain('npm test');
});

test('the test command of the README is the one CI runs', () => {
  const ci = fs.readFileSync(path.join(__dirname, '..', '..', '.ci', 'run'), 'utf-8');
  expect(ci).toMatch(/^npm ci\b/m);
  expect(ci).toMatch(/^npm test$/m);
});
