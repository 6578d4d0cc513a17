import { installLibrary, isMissingFunctionError, LIBRARY_VERSION } from '@jobgate/core';
import type { Redis } from 'ioredis';

export interface LibraryHealth {
  ok: boolean;
  reason?: string;
  /** The library was missing (Redis restarted empty, FUNCTION FLUSH) and was loaded again. */
  reinstalled?: boolean;
}

async function serverVersion(redis: Redis): Promise<number | null> {
  try {
    return Number(await redis.fcall_ro('jobgate_version', 0));
  } catch (error) {
    if (isMissingFunctionError(error)) return null;
    throw error;
  }
}

/**
 * Whether Redis runs the jobgate functions library this API was built with. A missing library is
 * loaded again here: otherwise an instance a load balancer took out of rotation for it would get
 * no traffic that could ever heal it.
 */
export async function checkLibrary(redis: Redis): Promise<LibraryHealth> {
  let version = await serverVersion(redis);
  let reinstalled = false;
  if (version === null) {
    await installLibrary(redis);
    reinstalled = true;
    version = await serverVersion(redis);
    if (version === null)
      return {
        ok: false,
        reason: 'the jobgate functions library is not loaded and could not be loaded',
      };
  }
  if (version !== LIBRARY_VERSION) {
    return {
      ok: false,
      reason: `Redis runs jobgate functions library version ${version}; this API needs version ${LIBRARY_VERSION}`,
    };
  }
  return reinstalled ? { ok: true, reinstalled } : { ok: true };
}
