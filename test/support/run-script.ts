import { spawn } from 'node:child_process';

/**
 * Runs `bash <script>` with exactly `env`, asynchronously (a test's own HTTP server must keep answering from this
 * process's event loop while it runs), and returns its exit code and its stdout and stderr together.
 */
export async function runScript(script: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; output: string }> {
  const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { status, output };
}
