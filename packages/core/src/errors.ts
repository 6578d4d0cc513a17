/** Base class of every error this package throws on purpose. */
export class JobgateError extends Error {
  override name = 'JobgateError';
}

/** Input that does not satisfy the schema; nothing was written. `issues` names each field. */
export class ValidationError extends JobgateError {
  override name = 'ValidationError';
  constructor(
    message: string,
    readonly issues: ReadonlyArray<{ path: string; message: string }> = [],
  ) {
    super(message);
  }
}

export class JobNotFoundError extends JobgateError {
  override name = 'JobNotFoundError';
  constructor(readonly jobId: string) {
    super(`Job ${jobId} not found`);
  }
}

/**
 * Why a worker no longer holds a job: it finished or was cancelled (`status:<status>`), another
 * worker holds it (`other_worker`), or its lease ran out (`lease_expired`).
 */
export type NotHeldReason = `status:${string}` | 'other_worker' | 'lease_expired';

/** A call on a job the worker does not hold; it was refused and changed nothing. */
export class JobNotHeldError extends JobgateError {
  override name = 'JobNotHeldError';
  constructor(
    readonly jobId: string,
    readonly workerId: string,
    readonly reason: NotHeldReason,
  ) {
    super(
      `Worker ${workerId} does not hold job ${jobId} (${describe(reason)}); the call was refused`,
    );
  }

  /** True when the job was cancelled: the worker should stop working on it. */
  get cancelled(): boolean {
    return this.reason === 'status:cancelled';
  }
}

function describe(reason: NotHeldReason): string {
  if (reason === 'other_worker') return 'another worker holds it';
  if (reason === 'lease_expired') return 'its lease expired';
  return `it is ${reason.slice('status:'.length)}`;
}

/** The Redis server runs a newer jobgate library than this client ships; nothing was changed. */
export class LibraryVersionError extends JobgateError {
  override name = 'LibraryVersionError';
  constructor(
    readonly serverVersion: number,
    readonly clientVersion: number,
  ) {
    super(
      `Redis has jobgate library version ${serverVersion}, newer than version ${clientVersion} shipped with this @jobgate/core; ` +
        'refusing to downgrade it (other clients depend on it). Upgrade @jobgate/core in this service.',
    );
  }
}
