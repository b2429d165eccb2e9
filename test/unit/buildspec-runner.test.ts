import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseBuildspec, runBuildspec, type BuildspecRunOptions } from '../support/buildspec-runner';

/** Real bash, tiny buildspecs written per test. */

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function workspace(buildspec: string): { buildspecPath: string; sourceDir: string } {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'buildspec-runner-test-')));
  roots.push(root);
  const buildspecPath = path.join(root, 'buildspec.yml');
  writeFileSync(buildspecPath, buildspec);
  const sourceDir = path.join(root, 'src');
  mkdirSync(sourceDir);
  return { buildspecPath, sourceDir };
}

function run(buildspec: string, options: Partial<BuildspecRunOptions> = {}) {
  const ws = workspace(buildspec);
  return runBuildspec({ ...ws, baseEnv: { PATH: process.env.PATH }, ...options }).then((result) => ({ ...result, ...ws }));
}

const statuses = (result: { phases: Array<{ name: string; status: string }> }) =>
  Object.fromEntries(result.phases.map((p) => [p.name, p.status]));

describe('runBuildspec', () => {
  it('keeps cwd, exported and shell variables across commands and phases; starts in CODEBUILD_SRC_DIR', async () => {
    const result = await run(`
version: 0.2
env:
  exported-variables: [START_DIR, WHERE, GREETING, PLAIN]
phases:
  install:
    commands:
      - export START_DIR="$PWD"
      - test "$PWD" = "$CODEBUILD_SRC_DIR"
      - mkdir -p sub/dir && cd sub
  pre_build:
    commands:
      - cd dir
      - export GREETING=hello
      - PLAIN=not-exported
  build:
    commands:
      - export WHERE="$(pwd)"
      - echo "greeting=$GREETING plain=$PLAIN"
`);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.failedPhase).toBeUndefined();
    expect(statuses(result)).toEqual({ INSTALL: 'SUCCEEDED', PRE_BUILD: 'SUCCEEDED', BUILD: 'SUCCEEDED', POST_BUILD: 'SUCCEEDED' });
    expect(result.exported).toEqual({
      START_DIR: result.sourceDir,
      WHERE: path.join(result.sourceDir, 'sub', 'dir'),
      GREETING: 'hello',
      PLAIN: 'not-exported',
    });
    expect(result.log).toContain('greeting=hello plain=not-exported');
    expect(result.log).toMatch(/\[Container\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d Running command cd dir\n/);
    expect(result.log).toContain('Phase complete: BUILD State: SUCCEEDED');
  });

  it('gives overrides precedence over projectEnv over buildspec variables, and sets the built-ins', async () => {
    const result = await run(
      `
version: 0.2
env:
  variables:
    A: from-buildspec
    B: from-buildspec
    C: from-buildspec
    N: 1
  exported-variables: [A, B, C, N, CODEBUILD_BUILD_SUCCEEDING, CODEBUILD_SRC_DIR, CODEBUILD_BUILD_ID, CODEBUILD_INITIATOR]
phases:
  build:
    commands:
      - "true"
`,
      { projectEnv: { B: 'from-project', C: 'from-project' }, overrides: { C: 'from-override' } },
    );
    expect(result.exported).toEqual({
      A: 'from-buildspec',
      B: 'from-project',
      C: 'from-override',
      N: '1',
      CODEBUILD_BUILD_SUCCEEDING: '1',
      CODEBUILD_SRC_DIR: result.sourceDir,
      CODEBUILD_BUILD_ID: expect.stringMatching(/^local-buildspec-runner:[0-9a-f-]{36}$/),
      CODEBUILD_INITIATOR: 'local-buildspec-runner',
    });
  });

  it('returns the exported variables as set at the end, omitting unset ones', async () => {
    const result = await run(`
version: 0.2
env:
  variables:
    SET_THEN_UNSET: initially
  exported-variables: [OUT, EMPTY, NEVER_SET, SET_THEN_UNSET]
phases:
  build:
    commands:
      - export OUT=first
      - export EMPTY=
  post_build:
    commands:
      - OUT="last value"
      - unset SET_THEN_UNSET
`);
    expect(result.exported).toEqual({ OUT: 'last value', EMPTY: '' });
  });

  it('install failure skips the rest of install and every later phase, post_build included', async () => {
    const result = await run(`
version: 0.2
phases:
  install:
    commands:
      - echo before
      - "false"
      - echo after-install-failure
  pre_build:
    commands:
      - echo in-pre-build
  build:
    commands:
      - echo in-build
  post_build:
    commands:
      - echo in-post-build
`);
    expect(result.status).toBe('FAILED');
    expect(result.failedPhase).toBe('INSTALL');
    expect(statuses(result)).toEqual({ INSTALL: 'FAILED', PRE_BUILD: 'SKIPPED', BUILD: 'SKIPPED', POST_BUILD: 'SKIPPED' });
    expect(result.log).toContain('before');
    for (const text of ['after-install-failure', 'in-pre-build', 'in-build', 'in-post-build']) {
      expect(result.log).not.toContain(`\n${text}\n`);
    }
    expect(result.log).toContain('Command did not exit successfully false exit status 1');
    expect(result.log).toContain('Phase complete: INSTALL State: FAILED');
    expect(result.log).toContain('Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: false. Reason: exit status 1');
  });

  it('build failure skips the rest of build, then post_build runs and sees CODEBUILD_BUILD_SUCCEEDING=0', async () => {
    const result = await run(`
version: 0.2
env:
  exported-variables: [SEEN_BEFORE, SEEN_IN_POST]
phases:
  build:
    commands:
      - export SEEN_BEFORE=$CODEBUILD_BUILD_SUCCEEDING
      - exit_with() { return $1; }; exit_with 4
      - echo after-build-failure
  post_build:
    commands:
      - export SEEN_IN_POST=$CODEBUILD_BUILD_SUCCEEDING
`);
    expect(result.status).toBe('FAILED');
    expect(result.failedPhase).toBe('BUILD');
    expect(statuses(result)).toEqual({ INSTALL: 'SUCCEEDED', PRE_BUILD: 'SUCCEEDED', BUILD: 'FAILED', POST_BUILD: 'SUCCEEDED' });
    expect(result.exported).toEqual({ SEEN_BEFORE: '1', SEEN_IN_POST: '0' });
    expect(result.log).not.toContain('\nafter-build-failure\n');
    expect(result.log).toContain('Reason: exit status 4');
  });

  it('runs finally after a failure; the phase stays FAILED; on-failure CONTINUE goes on to the next phase', async () => {
    const result = await run(`
version: 0.2
env:
  exported-variables: [CLEANED, NEXT]
phases:
  install:
    on-failure: CONTINUE
    commands:
      - "false"
      - echo skipped-command
    finally:
      - export CLEANED=yes
      - echo cleanup-ran
  pre_build:
    commands:
      - export NEXT=ran
`);
    expect(result.status).toBe('FAILED');
    expect(result.failedPhase).toBe('INSTALL');
    expect(statuses(result)).toEqual({ INSTALL: 'FAILED', PRE_BUILD: 'SUCCEEDED', BUILD: 'SUCCEEDED', POST_BUILD: 'SUCCEEDED' });
    expect(result.exported).toEqual({ CLEANED: 'yes', NEXT: 'ran' });
    expect(result.log).toContain('\ncleanup-ran\n');
    expect(result.log).not.toContain('\nskipped-command\n');
  });

  it('a failing finally command fails a phase whose commands succeeded', async () => {
    const result = await run(`
version: 0.2
phases:
  build:
    commands:
      - echo ok
    finally:
      - "false"
      - echo second-finally
`);
    expect(result.failedPhase).toBe('BUILD');
    expect(result.log).not.toContain('\nsecond-finally\n');
  });

  it('runs multi-line | blocks as one command, with its exit status deciding the phase', async () => {
    const result = await run(`
version: 0.2
env:
  exported-variables: [TOTAL]
phases:
  build:
    commands:
      - |
        TOTAL=0
        for n in 1 2 3; do
          TOTAL=$((TOTAL + n))
        done
        export TOTAL
        if [ "$TOTAL" -ne 6 ]; then
          exit 1
        fi
      - |
        false
        echo masked-by-last-line
  post_build:
    commands:
      - |
        echo one
        false
`);
    expect(result.exported).toEqual({ TOTAL: '6' });
    expect(result.log).toContain('masked-by-last-line');
    expect(result.failedPhase).toBe('POST_BUILD');
  });

  it('reports `exit 3` inside a command as FAILED in that phase', async () => {
    const result = await run(`
version: 0.2
env:
  exported-variables: [FROM_INSTALL]
phases:
  install:
    commands:
      - export FROM_INSTALL=kept
  pre_build:
    commands:
      - echo leaving; exit 3
      - echo not-reached
  build:
    commands:
      - echo in-build
`);
    expect(result.status).toBe('FAILED');
    expect(result.failedPhase).toBe('PRE_BUILD');
    expect(statuses(result)).toEqual({ INSTALL: 'SUCCEEDED', PRE_BUILD: 'FAILED', BUILD: 'SKIPPED', POST_BUILD: 'SKIPPED' });
    expect(result.log).toMatch(/Shell exited \(exit status 3\) during phase PRE_BUILD/);
    // From the end of the last completed phase.
    expect(result.exported).toEqual({ FROM_INSTALL: 'kept' });
  });

  it('treats a shell killed by `set -e` as a failure of the running phase', async () => {
    const result = await run(`
version: 0.2
phases:
  build:
    commands:
      - set -euo pipefail
      - "false"
  post_build:
    commands:
      - echo never
`);
    expect(result.failedPhase).toBe('BUILD');
    expect(statuses(result).POST_BUILD).toBe('SKIPPED');
  });

  it('kills the process group on timeout and reports TIMED_OUT quickly', async () => {
    const started = Date.now();
    const result = await run(
      `
version: 0.2
phases:
  build:
    commands:
      - echo sleeping
      - sleep 30 & sleep 30
`,
      { timeoutMs: 500 },
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.status).toBe('FAILED');
    expect(result.failedPhase).toBe('TIMED_OUT');
    expect(statuses(result)).toEqual({ INSTALL: 'SUCCEEDED', PRE_BUILD: 'SUCCEEDED', BUILD: 'FAILED', POST_BUILD: 'SKIPPED' });
    expect(result.log).toContain('Build timed out after 500 ms in phase BUILD');
  });

  describe('secrets-manager', () => {
    const buildspec = `
version: 0.2
env:
  secrets-manager:
    TOKEN: "arn:aws:secretsmanager:eu-central-1:123456789012:secret:helm:token::"
  exported-variables: [TOKEN_LENGTH]
phases:
  build:
    commands:
      - printf '%s' "$TOKEN" > token.txt
      - export TOKEN_LENGTH=\${#TOKEN}
      - echo "token is $TOKEN"
`;

    it('resolves through secretResolver and masks the value in the log', async () => {
      const refs: string[] = [];
      const result = await run(buildspec, {
        secretResolver: async (ref) => {
          refs.push(ref);
          return 's3cr3t-value';
        },
      });
      expect(refs).toEqual(['arn:aws:secretsmanager:eu-central-1:123456789012:secret:helm:token::']);
      expect(readFileSync(path.join(result.sourceDir, 'token.txt'), 'utf8')).toBe('s3cr3t-value');
      expect(result.exported).toEqual({ TOKEN_LENGTH: '12' });
      expect(result.log).toContain('token is ***');
      expect(result.log).not.toContain('s3cr3t-value');
    });

    it('throws without a resolver, naming the file and the variable', async () => {
      const ws = workspace(buildspec);
      await expect(runBuildspec(ws)).rejects.toThrow(/buildspec\.yml uses env\.secrets-manager \(TOKEN\) but no secretResolver/);
    });
  });

  describe('validation', () => {
    it.each([
      ['version 0.1', 'version: 0.1\nphases:\n  build:\n    commands: [echo]\n', /buildspec\.yml: version must be 0\.2/],
      ['an unknown phase', 'version: 0.2\nphases:\n  test:\n    commands: [echo]\n', /buildspec\.yml: phases\.test is not a known phase/],
      ['a non-string command', 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo a: b\n', /buildspec\.yml: phases\.build\.commands\[0\] must be a string/],
      ['a scalar commands', 'version: 0.2\nphases:\n  build:\n    commands: echo\n', /phases\.build\.commands must be a list/],
      ['an unknown on-failure', 'version: 0.2\nphases:\n  build:\n    on-failure: RETRY\n    commands: [echo]\n', /phases\.build\.on-failure must be ABORT or CONTINUE/],
      ['a bad exported name', 'version: 0.2\nenv:\n  exported-variables: ["A B"]\n', /env\.exported-variables\[0\] is not a valid variable name/],
      ['a non-bash shell', 'version: 0.2\nenv:\n  shell: sh\n', /env\.shell must be bash/],
      ['a null variable', 'version: 0.2\nenv:\n  variables:\n    A:\n', /env\.variables\.A must be a string \(got null\)/],
      ['an unknown top-level key', 'version: 0.2\nphase: {}\n', /buildspec\.yml: phase is not a known top-level key/],
      ['broken YAML', 'version: 0.2\nphases: [\n', /buildspec\.yml: not valid YAML/],
    ])('rejects %s with a message naming the file and key', async (_name, text, message) => {
      const ws = workspace(text);
      await expect(runBuildspec(ws)).rejects.toThrow(message);
    });

    it('accepts the project buildspecs', () => {
      const dir = path.join(__dirname, '..', '..', 'buildspecs');
      for (const name of ['plan.yml']) {
        const file = path.join(dir, name);
        expect(() => parseBuildspec(readFileSync(file, 'utf8'), file)).not.toThrow();
      }
    });
  });

  it('passes env values with quotes and $(...) through as data, never executing them', async () => {
    const danger = `it's "quoted" $(touch pwned-subst) \`touch pwned-backtick\` ; touch pwned-semicolon\nsecond line $HOME`;
    const result = await run(
      `
version: 0.2
env:
  variables:
    FROM_SPEC: "$(touch pwned-spec)"
  exported-variables: [DANGER, FROM_SPEC]
phases:
  build:
    commands:
      - printf '%s' "$DANGER" > danger.txt
      - echo "Running command spoof $FROM_SPEC"
`,
      { overrides: { DANGER: danger } },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect(readFileSync(path.join(result.sourceDir, 'danger.txt'), 'utf8')).toBe(danger);
    expect(result.exported).toEqual({ DANGER: danger, FROM_SPEC: '$(touch pwned-spec)' });
    for (const name of ['pwned-subst', 'pwned-backtick', 'pwned-semicolon', 'pwned-spec']) {
      expect(existsSync(path.join(result.sourceDir, name))).toBe(false);
    }
  });
});
