import * as fs from 'node:fs';
import * as path from 'node:path';
import { OperatorError } from './cli-commands';

/**
 * `--input` as the AWS CLI takes a JSON parameter: the JSON itself, `file://path` (relative to the current folder,
 * or `file:///absolute/path`), or `-` for standard input. A bare path that names a file is read too, the way the
 * console's input was saved to one. Every problem names the flag and what was given; usage errors exit 2.
 */
export interface InputSources {
  /** The file's text, or undefined when there is no such file. */
  readFile(file: string): string | undefined;
  readStdin(): string;
}

/** The files and standard input of this process. */
export const fileAndStdin: InputSources = {
  readFile: (file) => (fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file, 'utf-8') : undefined),
  readStdin: () => fs.readFileSync(0, 'utf-8'),
};

const usage = (message: string): never => {
  throw new OperatorError(message, 2);
};

export function readInputArgument(flag: string, given: string, sources: InputSources): Record<string, unknown> {
  const text = given.trim();
  let json: string;
  let from: string;
  if (text === '-') {
    json = sources.readStdin();
    from = 'standard input';
  } else if (text.startsWith('file://')) {
    const file = path.resolve(text.slice('file://'.length));
    json = sources.readFile(file) ?? usage(`${flag} ${given}: no such file (${file})`);
    from = file;
  } else if (text.startsWith('{')) {
    json = text;
    from = '';
  } else {
    const file = path.resolve(text);
    json = sources.readFile(file) ?? usage(`${flag} ${given}: neither a JSON object nor a file (give JSON, file://path or - for standard input)`);
    from = file;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    usage(`${flag}${from ? ` (${from})` : ''} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    usage(`${flag}${from ? ` (${from})` : ''} must be a JSON object such as {"version": "0.8.1"}`);
  }
  return parsed as Record<string, unknown>;
}
