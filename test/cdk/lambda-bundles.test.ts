import { BUNDLE_BUDGET_BYTES, bundleLambdas, lambdaHandlers, type LambdaBundle } from '../support/lambda-bundles';

/**
 * The bundle budget of docs/performance.md, kept in `npm test`: every Lambda, bundled with DeployerFunction's
 * esbuild options, is at most 250 KB. (About 2 s for all of them; the cold-import half of the budget is timed by
 * `npm run bench`, since a timing has no place in a test that must not flake.)
 */
describe('Lambda bundles', () => {
  let bundles: LambdaBundle[];
  beforeAll(() => {
    bundles = bundleLambdas();
  });

  test('every handler folder is bundled', () => {
    expect(bundles.map((b) => b.handler)).toEqual(lambdaHandlers());
    expect(bundles.length).toBeGreaterThanOrEqual(10);
  });

  test.each(lambdaHandlers())('%s is within the 250 KB budget', (handler) => {
    const bundle = bundles.find((b) => b.handler === handler)!;
    const largest = Object.entries(bundle.inputs)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([input, bytes]) => `${input} ${(bytes / 1024).toFixed(1)} KB`)
      .join(', ');
    // The message names the largest parts, which is where to trim.
    expect({ handler, kb: Math.round(bundle.bytes / 1024), largest: bundle.bytes <= BUNDLE_BUDGET_BYTES ? 'within budget' : largest }).toEqual({
      handler,
      kb: expect.any(Number),
      largest: 'within budget',
    });
  });

  test('only the AWS SDK, which the Lambda runtime provides, is left out of a bundle', () => {
    for (const bundle of bundles) expect(bundle.externals.filter((m) => !m.startsWith('@aws-sdk/'))).toEqual([]);
  });

  test('the CLI and CDK YAML library and the full zod API stay out of the Lambdas that do not need them', () => {
    // render-workspace keeps `yaml` for byte-identical Helm values documents; values.yaml is read with js-yaml.
    for (const bundle of bundles) {
      if (bundle.handler !== 'render-workspace') expect(Object.keys(bundle.inputs)).not.toContain('yaml');
      expect(Object.keys(bundle.inputs).filter((f) => f.includes('zod/v4/classic'))).toEqual([]);
    }
  });
});
