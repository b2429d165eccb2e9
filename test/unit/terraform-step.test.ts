import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REDACTED } from '../../lambdas/shared/domain/plan';
import { splitOutputs } from '../../buildspecs/helper/terraform-step';
import { writeExports } from '../../buildspecs/helper/workspace';

const HELM_PASSWORD = `hR7!kP2"qW9\\xM4'$`;
const CLIENT_SECRET = 'Zq8rT2vX9mK4\npL7nW3yB6cD1';
const HELM_USER = 'robot$apheris+acme';
const SECRETS = [HELM_PASSWORD, CLIENT_SECRET, HELM_USER];

describe('splitOutputs', () => {
  /** `terraform output -json` after an apply of the gateway module. */
  const RAW = {
    cluster_name: { sensitive: false, type: 'string', value: 'apheris-gateway' },
    endpoint: { sensitive: false, type: 'string', value: 'https://ABCDEF0123456789.gr7.eu-central-1.eks.amazonaws.com' },
    dal_role_arn: { sensitive: false, type: 'string', value: 'arn:aws:iam::123456789012:role/apheris-dal' },
    node_pools: { sensitive: false, type: ['list', 'string'], value: ['default', 'gpu'] },
    tags: { sensitive: false, type: ['map', 'string'], value: { Team: 'ml', Enabled: true, Count: 3 } },
    helm_login: { sensitive: false, type: 'string', value: `${HELM_USER}:${HELM_PASSWORD}` },
    notes: { sensitive: false, type: ['object', {}], value: { secret: CLIENT_SECRET, nested: [HELM_PASSWORD] } },
    kubeconfig: { sensitive: true, type: 'string', value: `users:\n- token: ${HELM_PASSWORD}` },
    helm_values: { sensitive: true, type: 'string', value: `clientSecret: ${CLIENT_SECRET}` },
    nothing: { value: null },
  };

  test('non-sensitive outputs keep their values; sensitive ones are only named', () => {
    const report = splitOutputs(RAW, SECRETS);
    expect(report.status).toBe('applied');
    expect(report.sensitiveOutputs).toEqual(['kubeconfig', 'helm_values']);
    expect(report.outputs).toEqual({
      cluster_name: 'apheris-gateway',
      endpoint: 'https://ABCDEF0123456789.gr7.eu-central-1.eks.amazonaws.com',
      dal_role_arn: 'arn:aws:iam::123456789012:role/apheris-dal',
      node_pools: ['default', 'gpu'],
      tags: { Team: 'ml', Enabled: true, Count: 3 },
      helm_login: `${REDACTED}:${REDACTED}`,
      notes: { secret: REDACTED, nested: [REDACTED] },
      nothing: null,
    });
    expect(report.outputs).not.toHaveProperty('kubeconfig');
    expect(report.outputs).not.toHaveProperty('helm_values');
  });

  test('no secret, as is or JSON-escaped, is in the report', () => {
    const text = JSON.stringify(splitOutputs(RAW, SECRETS), null, 2);
    for (const secret of SECRETS) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(JSON.stringify(secret).slice(1, -1));
    }
  });

  test('no outputs', () => {
    expect(splitOutputs({}, SECRETS)).toEqual({ status: 'applied', outputs: {}, sensitiveOutputs: [] });
  });

  test('importing the step does not run it (require.main guard)', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    try {
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require('../../buildspecs/helper/terraform-step');
        expect(typeof mod.splitOutputs).toBe('function');
      });
      expect(exit).not.toHaveBeenCalled();
    } finally {
      exit.mockRestore();
    }
  });
});

describe('writeExports', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exports-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Sources the file with real bash and prints each named variable, NUL-terminated. */
  function sourced(file: string, names: string[]): string[] {
    const out = execFileSync('bash', ['-c', '. "$1" || exit 9; shift; for n in "$@"; do printf "%s\\0" "${!n}"; done', 'bash', file, ...names], {
      cwd: dir,
      encoding: 'utf-8',
    });
    return out.split('\0').slice(0, -1);
  }

  test('plain values, numbers and booleans round-trip', async () => {
    const file = path.join(dir, 'step-exports.env');
    await writeExports(file, { STEP_STATUS: 'succeeded', PLAN_ADD: 3, PLAN_DESTROY: 0, PLAN_HAS_CHANGES: false, EMPTY: '' });
    expect(sourced(file, ['STEP_STATUS', 'PLAN_ADD', 'PLAN_DESTROY', 'PLAN_HAS_CHANGES', 'EMPTY'])).toEqual(['succeeded', '3', '0', 'false', '']);
    expect(fs.readFileSync(file, 'utf-8')).toBe(
      "export STEP_STATUS='succeeded'\nexport PLAN_ADD='3'\nexport PLAN_DESTROY='0'\nexport PLAN_HAS_CHANGES='false'\nexport EMPTY=''\n",
    );
  });

  test('quotes, spaces, $(...), backticks, globs and newlines round-trip and nothing executes', async () => {
    const marker = path.join(dir, 'pwned');
    const values: Record<string, string> = {
      SINGLE: "it's",
      BREAKOUT: `'; touch ${marker}; echo '`,
      DOUBLE_BREAKOUT: `'"'"'$(touch ${marker})'`,
      SUBST: `$(touch ${marker})`,
      BACKTICK: `\`touch ${marker}\``,
      VARS: '$HOME ${PATH} $1 $$ $? !!',
      SPACES: '  leading and trailing  ',
      GLOB: '* ?.tf [a-z]',
      NEWLINES: `line one\nline two\n\n; touch ${marker}\n`,
      BACKSLASH: 'C:\\path\\to\\file \\n \\',
      MESSAGE: `gateway-0.8.1.zip: entry "../x" escapes; can't "unzip"\r\ttabbed`,
      UNICODE: 'Grüße ✓ — 日本',
    };
    const file = path.join(dir, 'step-exports.env');
    await writeExports(file, values);
    expect(sourced(file, Object.keys(values))).toEqual(Object.values(values));
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('the variables are exported to child processes', async () => {
    const file = path.join(dir, 'step-exports.env');
    await writeExports(file, { FAILURE_MESSAGE: "it's done\nreally" });
    const out = execFileSync('bash', ['-c', '. "$1"; printenv FAILURE_MESSAGE', 'bash', file], { encoding: 'utf-8' });
    expect(out).toBe("it's done\nreally\n");
  });

  test('writing again replaces the file', async () => {
    const file = path.join(dir, 'step-exports.env');
    await writeExports(file, { STEP_STATUS: 'failed', FAILURE_CLASS: 'setup' });
    await writeExports(file, { STEP_STATUS: 'succeeded' });
    expect(fs.readFileSync(file, 'utf-8')).toBe("export STEP_STATUS='succeeded'\n");
  });
});
