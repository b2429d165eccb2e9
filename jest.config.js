/** Three layers: fast pure logic, CDK template assertions, and real-tool integration (moto_server, terraform). */
// Types are checked once by `tsc --noEmit` in `npm test`; the tests only need the types stripped, which swc does.
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }];
const common = { testEnvironment: 'node', transform: { '^.+\\.ts$': swc } };

module.exports = {
  // Two cores: the integration tests mostly wait on terraform, kubectl and moto, so two workers overlap them.
  maxWorkers: 2,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'cdk', testMatch: ['<rootDir>/test/cdk/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/support/global-teardown.ts',
    },
  ],
};
