import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { secretRedactor } from '../../lambdas/shared/domain/plan';

export interface CommandCall {
  readonly bin: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Known secret strings: removed from every line before it reaches the build log or the returned output. */
  readonly secrets: readonly string[];
  /** Print the (redacted) output to the build log. @default true */
  readonly echo?: boolean;
  /** Keep raw stdout, for JSON that the caller parses or redacts structurally and never prints. @default false */
  readonly captureRawStdout?: boolean;
}

export interface CommandResult {
  readonly code: number;
  /** stdout and stderr, redacted, in the order they arrived line by line. */
  readonly output: string;
  readonly rawStdout: string;
}

/** Runs a tool (terraform, kubectl, helm) with its output redacted line by line before anything is printed. */
export function runCommand(call: CommandCall): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(call.bin, [...call.args], { cwd: call.cwd, env: call.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const raw: Buffer[] = [];
    const redact = secretRedactor(call.secrets);
    const follow = (stream: NodeJS.ReadableStream, sink: NodeJS.WriteStream) => {
      const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        const safe = redact(line);
        lines.push(safe);
        if (call.echo !== false) sink.write(`${safe}\n`);
      });
      return new Promise<void>((done) => rl.on('close', done));
    };
    if (call.captureRawStdout) child.stdout.on('data', (chunk: Buffer) => raw.push(chunk));
    const streams = call.captureRawStdout
      ? [follow(child.stderr, process.stderr)]
      : [follow(child.stdout, process.stdout), follow(child.stderr, process.stderr)];
    child.on('error', (err) => reject(new Error(`cannot run ${call.bin}: ${err.message}`)));
    child.on('close', async (code) => {
      await Promise.all(streams);
      resolve({ code: code ?? 1, output: lines.join('\n'), rawStdout: Buffer.concat(raw).toString('utf-8') });
    });
  });
}
