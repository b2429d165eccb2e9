import { execFile, execFileSync } from 'node:child_process';

/** A finished child process. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without blocking the event loop: the kube stand-in answers kubectl from this very process, so
 * a synchronous child would deadlock it. Never rejects; a spawn failure is code -1.
 */
export function runTool(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ToolRun> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let kubectlVersion: string | undefined;

/** This machine's kubectl version (x.y.z): the Verify build's pin, so its installer finds it and downloads nothing. */
export function localKubectlVersion(): string {
  if (!kubectlVersion) {
    const client = JSON.parse(execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf-8' }));
    kubectlVersion = /^v(\d+\.\d+\.\d+)/.exec(client.clientVersion.gitVersion)![1];
  }
  return kubectlVersion;
}

let awsBinary: string | undefined;

/**
 * The AWS CLI itself: behind a version manager's shim (pyenv here) each call first runs a dozen shell scripts,
 * about half a second, which tests that call the CLI several times need not pay. Falls back to `aws` on PATH.
 */
export function awsCli(): string {
  if (!awsBinary) {
    try {
      awsBinary = execFileSync('sh', ['-c', 'if command -v pyenv >/dev/null 2>&1; then pyenv which aws; else command -v aws; fi'], { encoding: 'utf-8' }).trim() || 'aws';
    } catch {
      awsBinary = 'aws';
    }
  }
  return awsBinary;
}
