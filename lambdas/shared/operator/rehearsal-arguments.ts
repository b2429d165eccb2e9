import * as fs from 'node:fs';
import * as path from 'node:path';
import { OperatorError } from './cli-commands';
import { fileAndStdin, readInputArgument } from './input-argument';

/**
 * `npm run rehearse` arguments, checked before anything starts (synth, the emulator, the builds take seconds): each
 * problem names the flag and the file, exit code 2, no stack trace.
 */
export interface RehearsalArguments {
  readonly bundle?: string;
  readonly values?: string;
  readonly config?: string;
  readonly input?: string;
}

export interface CheckedRehearsalArguments {
  readonly bundlePath?: string;
  readonly valuesYaml?: string;
  readonly configPath?: string;
  readonly input?: unknown;
}

export interface RehearsalToolPorts {
  /** Whether an executable of this name is on PATH. */
  onPath(command: string): boolean;
}

const fail = (message: string): never => {
  throw new OperatorError(message, 2);
};

function readableFile(flag: string, file: string): string {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) fail(`${flag} ${file}: no such file (${resolved})`);
  if (!fs.statSync(resolved).isFile()) fail(`${flag} ${file}: not a file`);
  return resolved;
}

export function checkRehearsalArguments(args: RehearsalArguments, tools: RehearsalToolPorts): CheckedRehearsalArguments {
  for (const [tool, how] of [
    ['terraform', 'install Terraform 1.11.4 (the machine image has it at /usr/local/bin/terraform)'],
    ['kubectl', 'install kubectl (the machine image has it); Verify runs it against the Kubernetes API stand-in'],
    ['python3', "install Python 3 with moto: pip install 'moto[server]==5.2.1' (the machine image has both)"],
  ] as const) {
    if (!tools.onPath(tool)) fail(`${tool} is not on PATH: ${how}`);
  }
  const out: { bundlePath?: string; valuesYaml?: string; configPath?: string; input?: unknown } = {};
  if (args.bundle !== undefined) {
    out.bundlePath = readableFile('--bundle', args.bundle);
    if (!/^gateway-.+\.zip$/.test(path.basename(out.bundlePath))) fail(`--bundle ${args.bundle}: the file must be named gateway-<version>.zip, as the vendor delivers it`);
  }
  if (args.values !== undefined) out.valuesYaml = fs.readFileSync(readableFile('--values', args.values), 'utf-8');
  if (args.config !== undefined) out.configPath = readableFile('--config', args.config);
  if (args.input !== undefined) out.input = readInputArgument('--input', args.input, fileAndStdin);
  return out;
}
