// Errors that carry the HTTP status the Engine API maps them to, with a message a user can act on.

export class BerthError extends Error {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BerthError';
    this.status = status;
  }
}

/** 400: the request or input is malformed (bad parameter, bad Dockerfile, bad tar...). */
export const badRequest = (message: string, cause?: unknown) => new BerthError(400, message, { cause });
/** 404: no such container, image, network, volume... */
export const notFound = (message: string) => new BerthError(404, message);
/** 409: the object exists, is in use, or is in the wrong state. */
export const conflict = (message: string) => new BerthError(409, message);
/** 500: something failed on our side (runtime, kernel, disk). */
export const internal = (message: string, cause?: unknown) => new BerthError(500, message, { cause });

export function isBerthError(err: unknown): err is BerthError {
  return err instanceof BerthError;
}

/** The status a caught error maps to: its own for a BerthError, 500 otherwise. */
export function statusOf(err: unknown): number {
  return isBerthError(err) ? err.status : 500;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
