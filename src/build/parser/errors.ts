// Dockerfile errors: a 400 that names file, line (and column where it helps) and a short reason.
import { BerthError } from '../../util/index.js';

export class DockerfileError extends BerthError {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly reason: string;
  constructor(file: string, line: number, reason: string, column?: number) {
    super(400, `${file}:${line}${column !== undefined ? `:${column}` : ''}: ${reason}`);
    this.name = 'DockerfileError';
    this.file = file;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}

export function isDockerfileError(err: unknown): err is DockerfileError {
  return err instanceof DockerfileError;
}

/** Thrown inside instruction parsing; the parser adds file and line. */
export class InstructionError extends Error {
  constructor(
    message: string,
    readonly column?: number,
    /** Set when raised while walking a stage, which knows the line but not the file. */
    readonly line?: number,
  ) {
    super(message);
    this.name = 'InstructionError';
  }
}
