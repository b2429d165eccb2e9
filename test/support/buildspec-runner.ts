import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * Runs a CodeBuild buildspec (version 0.2) locally with bash, for tests.
 *
 * Model: one bash process runs every command of every phase (`source`d from its own file, so `cd`, `export`,
 * shell variables and shell options persist, as in CodeBuild 0.2). A generated master script drives the phase
 * logic and prints CodeBuild-like `[Container]` lines. It talks back to this runner only through files in a temp
 * directory (phase started/status markers, NUL-separated exported-variable snapshots), never through the log.
 * Environment values reach bash only through the process environment, never through the script text.
 *
 * Not emulated: artifacts, cache, reports, runtime-versions, run-as, proxy, batch (accepted and ignored).
 */

export interface BuildspecRunOptions {
  /** The buildspec YAML file. */
  buildspecPath: string;
  /** Becomes CODEBUILD_SRC_DIR and the initial working directory. */
  sourceDir: string;
  /** Project-level environment variables (override the buildspec's `env`). */
  projectEnv?: Record<string, string>;
  /** StartBuild environmentVariablesOverride (override everything else). */
  overrides?: Record<string, string>;
  /** Default: process.env. The runner's built-ins and the variables above are added on top. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Resolves an `env.secrets-manager` reference ("secret-id:json-key:version-stage:version-id"). */
  secretResolver?: (ref: string) => Promise<string>;
  /** Resolves an `env.parameter-store` parameter name. Extension: CodeBuild's other secret source. */
  parameterResolver?: (name: string) => Promise<string>;
  /** Kills the whole process group after this long; the build is FAILED with failedPhase TIMED_OUT. */
  timeoutMs?: number;
}

export type BuildPhaseName = 'INSTALL' | 'PRE_BUILD' | 'BUILD' | 'POST_BUILD';

export interface BuildspecRunResult {
  status: 'SUCCEEDED' | 'FAILED';
  failedPhase?: BuildPhaseName | 'TIMED_OUT';
  /** env.exported-variables that were set at the end of the build (unset ones are omitted). */
  exported: Record<string, string>;
  /** Combined stdout+stderr plus [Container] lines; secrets-manager and parameter-store values are masked. */
  log: string;
  phases: Array<{ name: BuildPhaseName; status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED' }>;
  durationMs: number;
}

const PHASES: ReadonlyArray<{ key: string; name: BuildPhaseName }> = [
  { key: 'install', name: 'INSTALL' },
  { key: 'pre_build', name: 'PRE_BUILD' },
  { key: 'build', name: 'BUILD' },
  { key: 'post_build', name: 'POST_BUILD' },
];
const TOP_LEVEL_KEYS = ['version', 'run-as', 'env', 'proxy', 'batch', 'phases', 'reports', 'artifacts', 'cache'];
const ENV_KEYS = ['shell', 'variables', 'parameter-store', 'exported-variables', 'secrets-manager', 'git-credential-helper'];
const PHASE_KEYS = ['run-as', 'on-failure', 'runtime-versions', 'commands', 'finally'];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface ParsedPhase {
  name: BuildPhaseName;
  commands: string[];
  finally: string[];
  continueOnFailure: boolean;
}

interface ParsedBuildspec {
  variables: Record<string, string>;
  parameterStore: Record<string, string>;
  secretsManager: Record<string, string>;
  exportedVariables: string[];
  phases: ParsedPhase[];
}

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses and validates a buildspec; throws an Error naming the file and the offending key. */
export function parseBuildspec(text: string, file: string): ParsedBuildspec {
  const fail = (key: string, problem: string): never => {
    throw new Error(`Invalid buildspec ${file}: ${key} ${problem}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new Error(`Invalid buildspec ${file}: not valid YAML: ${(error as Error).message}`);
  }
  if (!isMapping(doc)) return fail('(document)', 'must be a mapping');
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.includes(key)) fail(key, `is not a known top-level key (${TOP_LEVEL_KEYS.join(', ')})`);
  }
  if (doc.version !== 0.2 && doc.version !== '0.2') fail('version', `must be 0.2 (got ${JSON.stringify(doc.version)})`);

  const env = doc.env ?? {};
  if (!isMapping(env)) fail('env', 'must be a mapping');
  const envMap = env as Mapping;
  for (const key of Object.keys(envMap)) {
    if (!ENV_KEYS.includes(key)) fail(`env.${key}`, `is not a known env key (${ENV_KEYS.join(', ')})`);
  }
  if (envMap.shell !== undefined && envMap.shell !== 'bash' && envMap.shell !== '/bin/bash') {
    fail('env.shell', `must be bash: the local runner only runs bash (got ${JSON.stringify(envMap.shell)})`);
  }

  const stringMap = (key: string, scalars: boolean): Record<string, string> => {
    const value = envMap[key];
    if (value === undefined || value === null) return {};
    if (!isMapping(value)) return fail(`env.${key}`, 'must be a mapping of NAME: value');
    const out: Record<string, string> = {};
    for (const [name, raw] of Object.entries(value)) {
      if (!NAME.test(name)) fail(`env.${key}.${name}`, 'is not a valid environment variable name');
      if (typeof raw === 'string') out[name] = raw;
      else if (scalars && (typeof raw === 'number' || typeof raw === 'boolean')) out[name] = String(raw);
      else fail(`env.${key}.${name}`, `must be a string (got ${raw === null ? 'null' : typeof raw})`);
    }
    return out;
  };
  const variables = stringMap('variables', true);
  const parameterStore = stringMap('parameter-store', false);
  const secretsManager = stringMap('secrets-manager', false);

  const exportedRaw = envMap['exported-variables'] ?? [];
  if (!Array.isArray(exportedRaw)) fail('env.exported-variables', 'must be a list of variable names');
  const exportedVariables = (exportedRaw as unknown[]).map((name, index) => {
    if (typeof name !== 'string' || !NAME.test(name)) {
      return fail(`env.exported-variables[${index}]`, `is not a valid variable name (${JSON.stringify(name)})`);
    }
    return name;
  });

  const phasesRaw = doc.phases ?? {};
  if (!isMapping(phasesRaw)) fail('phases', 'must be a mapping');
  const phasesMap = phasesRaw as Mapping;
  const known = PHASES.map((p) => p.key);
  for (const key of Object.keys(phasesMap)) {
    if (!known.includes(key)) fail(`phases.${key}`, `is not a known phase (${known.join(', ')})`);
  }
  const commandList = (value: unknown, key: string): string[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return fail(key, 'must be a list of command strings');
    return value.map((command, index) => {
      if (typeof command !== 'string') {
        return fail(`${key}[${index}]`, `must be a string (got ${command === null ? 'null' : typeof command}; quote commands that contain ": ")`);
      }
      return command;
    });
  };
  const phases = PHASES.map(({ key, name }): ParsedPhase => {
    const raw = phasesMap[key];
    if (raw === undefined) return { name, commands: [], finally: [], continueOnFailure: false };
    if (!isMapping(raw)) return fail(`phases.${key}`, 'must be a mapping');
    for (const sub of Object.keys(raw)) {
      if (!PHASE_KEYS.includes(sub)) fail(`phases.${key}.${sub}`, `is not a known phase key (${PHASE_KEYS.join(', ')})`);
    }
    const onFailure = raw['on-failure'] ?? 'ABORT';
    if (onFailure !== 'ABORT' && onFailure !== 'CONTINUE') {
      fail(`phases.${key}.on-failure`, `must be ABORT or CONTINUE in the local runner (got ${JSON.stringify(onFailure)})`);
    }
    return {
      name,
      commands: commandList(raw.commands, `phases.${key}.commands`),
      finally: commandList(raw.finally, `phases.${key}.finally`),
      continueOnFailure: onFailure === 'CONTINUE',
    };
  });
  return { variables, parameterStore, secretsManager, exportedVariables, phases };
}

/** The master script. Only runner-generated, validated tokens are interpolated: file indexes, phase names, variable names. */
function masterScript(spec: ParsedBuildspec, commandFile: (command: string) => string): string {
  const names = spec.exportedVariables.join(' ');
  const lines: string[] = [
    '__CBR_DIR=$1',
    'shift',
    'set --',
    'readonly __CBR_DIR',
    'exec 2>&1',
    "__cbr_log() { printf '[Container] %(%Y/%m/%d %H:%M:%S)T %s\\n' -1 \"$1\"; }",
    '__cbr_snapshot() {',
    '  local __cbr_n',
    '  {',
    `    for __cbr_n in ${names}; do`,
    "      if [[ -n ${!__cbr_n+x} ]]; then printf '%s\\0%s\\0' \"$__cbr_n\" \"${!__cbr_n}\"; fi",
    '    done',
    '  } > "$__CBR_DIR/state/exported.$1"',
    '}',
    '__cbr_failed() {',
    '  __CBR_PHASE_FAILED=1',
    '  export CODEBUILD_BUILD_SUCCEEDING=0',
    '  __cbr_log "Command did not exit successfully $(<"$__CBR_DIR/cmd/$1") exit status $2"',
    '  if [[ -z $__CBR_FAIL_MSG ]]; then __CBR_FAIL_MSG="Error while executing command: $(<"$__CBR_DIR/cmd/$1"). Reason: exit status $2"; fi',
    '}',
    '__CBR_STOP=0',
  ];
  const runCommands = (commands: string[], guard: string) => {
    for (const command of commands) {
      const file = commandFile(command);
      lines.push(
        `if (( ${guard} )); then`,
        `  __cbr_log "Running command $(<"$__CBR_DIR/cmd/${file}")"`,
        `  source "$__CBR_DIR/cmd/${file}"`,
        '  __CBR_RC=$?',
        `  if (( __CBR_RC != 0 )); then ${guard}=0; __cbr_failed ${file} "$__CBR_RC"; fi`,
        'fi',
      );
    }
  };
  for (const phase of spec.phases) {
    const stopsBuild = (phase.name === 'INSTALL' || phase.name === 'PRE_BUILD') && !phase.continueOnFailure;
    lines.push(
      `# phase ${phase.name}`,
      'if (( __CBR_STOP == 0 )); then',
      `: > "$__CBR_DIR/state/started.${phase.name}"`,
      `__cbr_log "Entering phase ${phase.name}"`,
      '__CBR_OK=1',
      '__CBR_PHASE_FAILED=0',
      '__CBR_FAIL_MSG=',
    );
    runCommands(phase.commands, '__CBR_OK');
    lines.push('__CBR_FOK=1');
    runCommands(phase.finally, '__CBR_FOK');
    lines.push(
      `__cbr_snapshot ${phase.name}`,
      'if (( __CBR_PHASE_FAILED )); then',
      `  __cbr_log "Phase complete: ${phase.name} State: FAILED"`,
      '  __cbr_log "Phase context status code: COMMAND_EXECUTION_ERROR Message: $__CBR_FAIL_MSG"',
      `  printf FAILED > "$__CBR_DIR/state/status.${phase.name}"`,
      stopsBuild ? '  __CBR_STOP=1' : '  :',
      'else',
      `  __cbr_log "Phase complete: ${phase.name} State: SUCCEEDED"`,
      '  __cbr_log "Phase context status code:  Message: "',
      `  printf SUCCEEDED > "$__CBR_DIR/state/status.${phase.name}"`,
      'fi',
      'fi',
    );
  }
  lines.push('__cbr_snapshot END', ': > "$__CBR_DIR/state/done"', 'exit 0', '');
  return lines.join('\n');
}

function timestamp(date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseExported(text: string): Record<string, string> {
  const parts = text.split('\0');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) out[parts[i]] = parts[i + 1];
  return out;
}

async function resolveAll(
  refs: Record<string, string>,
  resolver: ((ref: string) => Promise<string>) | undefined,
  where: string,
  file: string,
  option: string,
): Promise<Record<string, string>> {
  const entries = Object.entries(refs);
  if (entries.length === 0) return {};
  if (!resolver) {
    throw new Error(`Buildspec ${file} uses ${where} (${entries.map(([name]) => name).join(', ')}) but no ${option} was given`);
  }
  const values = await Promise.all(
    entries.map(async ([name, ref]) => {
      try {
        const value = await resolver(ref);
        if (typeof value !== 'string') throw new Error(`resolved to ${typeof value}, not a string`);
        return [name, value] as const;
      } catch (error) {
        throw new Error(`Buildspec ${file}: ${where}.${name} (${ref}) could not be resolved: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
  return Object.fromEntries(values);
}

export async function runBuildspec(options: BuildspecRunOptions): Promise<BuildspecRunResult> {
  const started = Date.now();
  const file = options.buildspecPath;
  const spec = parseBuildspec(await fs.readFile(file, 'utf8'), file);
  const sourceDir = path.resolve(options.sourceDir);
  if (!existsSync(sourceDir) || !statSync(sourceDir).isDirectory()) {
    throw new Error(`runBuildspec: sourceDir ${sourceDir} is not a directory`);
  }
  const parameters = await resolveAll(spec.parameterStore, options.parameterResolver, 'env.parameter-store', file, 'parameterResolver');
  const secrets = await resolveAll(spec.secretsManager, options.secretResolver, 'env.secrets-manager', file, 'secretResolver');

  const buildId = `local-buildspec-runner:${randomUUID()}`;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.baseEnv ?? process.env)) if (value !== undefined) env[key] = value;
  Object.assign(
    env,
    {
      CODEBUILD_BUILD_ID: buildId,
      CODEBUILD_BUILD_NUMBER: '1',
      CODEBUILD_INITIATOR: 'local-buildspec-runner',
      CODEBUILD_CI: 'true',
      CODEBUILD_START_TIME: String(started),
    },
    spec.variables,
    parameters,
    secrets,
    options.projectEnv ?? {},
    options.overrides ?? {},
    // Owned by the build itself: nothing overrides these.
    { CODEBUILD_SRC_DIR: sourceDir, CODEBUILD_BUILD_SUCCEEDING: '1', PWD: sourceDir },
  );

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'buildspec-runner-'));
  try {
    await fs.mkdir(path.join(dir, 'cmd'));
    await fs.mkdir(path.join(dir, 'state'));
    const commandFiles: Array<[string, string]> = [];
    const script = masterScript(spec, (command) => {
      const name = String(commandFiles.length);
      commandFiles.push([name, command.endsWith('\n') ? command : `${command}\n`]);
      return name;
    });
    await Promise.all(commandFiles.map(([name, text]) => fs.writeFile(path.join(dir, 'cmd', name), text)));
    const scriptPath = path.join(dir, 'master.sh');
    await fs.writeFile(scriptPath, script);

    const chunks: Buffer[] = [];
    let timedOut = false;
    const child = spawn('bash', ['--noprofile', '--norc', scriptPath, dir], {
      cwd: sourceDir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup();
          }, options.timeoutMs);
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    if (timer) clearTimeout(timer);
    // Like the end of a container: background processes left by the build die, so the pipes close.
    killGroup();
    await new Promise<void>((resolve) => {
      if (child.stdout.closed && child.stderr.closed) return resolve();
      const guard = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve();
      }, 2000);
      child.once('close', () => {
        clearTimeout(guard);
        resolve();
      });
    });

    const state = path.join(dir, 'state');
    const done = existsSync(path.join(state, 'done'));
    const phases: BuildspecRunResult['phases'] = [];
    let inProgress: BuildPhaseName | undefined;
    let lastCompleted: BuildPhaseName | undefined;
    for (const { name } of PHASES) {
      const status = await readIfExists(path.join(state, `status.${name}`));
      if (status === 'SUCCEEDED' || status === 'FAILED') {
        phases.push({ name, status });
        lastCompleted = name;
      } else if (existsSync(path.join(state, `started.${name}`))) {
        phases.push({ name, status: 'FAILED' });
        inProgress = name;
      } else {
        phases.push({ name, status: 'SKIPPED' });
      }
    }

    const runnerLines: string[] = [];
    let failedPhase: BuildspecRunResult['failedPhase'] = phases.find((p) => p.status === 'FAILED')?.name;
    if (!done && timedOut) {
      failedPhase = 'TIMED_OUT';
      runnerLines.push(`Build timed out after ${options.timeoutMs} ms${inProgress ? ` in phase ${inProgress}` : ''}`);
    } else if (!done) {
      if (!failedPhase) {
        failedPhase = 'INSTALL';
        phases[0].status = 'FAILED';
      }
      const how = exit.signal ? `signal ${exit.signal}` : `exit status ${exit.code}`;
      runnerLines.push(`Shell exited (${how}) during phase ${inProgress ?? failedPhase}; remaining phases and finally blocks were not run`);
    }

    const exportedFile = done ? 'END' : lastCompleted;
    const exportedText = exportedFile ? await readIfExists(path.join(state, `exported.${exportedFile}`)) : undefined;
    let log = Buffer.concat(chunks).toString('utf8');
    if (runnerLines.length > 0) {
      if (log.length > 0 && !log.endsWith('\n')) log += '\n';
      log += runnerLines.map((line) => `[Container] ${timestamp()} ${line}\n`).join('');
    }
    const masked = [...Object.values(parameters), ...Object.values(secrets)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
    for (const value of masked) log = log.split(value).join('***');

    return {
      status: failedPhase ? 'FAILED' : 'SUCCEEDED',
      ...(failedPhase ? { failedPhase } : {}),
      exported: exportedText === undefined ? {} : parseExported(exportedText),
      log,
      phases,
      durationMs: Date.now() - started,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
