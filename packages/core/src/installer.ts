import { Cluster, type Redis } from 'ioredis';
import { LibraryVersionError } from './errors.js';
import { LIBRARY_SOURCE } from './lua/library.generated.js';

function parseVersion(source: string): number {
  const match = /^local LIBRARY_VERSION = (\d+)$/m.exec(source);
  if (!match)
    throw new Error(
      'the Lua library has no "local LIBRARY_VERSION = <n>" line (src/lua/header.lua)',
    );
  return Number(match[1]);
}

/** The version of the Lua library this package ships (from its LIBRARY_VERSION line). */
export const LIBRARY_VERSION = parseVersion(LIBRARY_SOURCE);
export { LIBRARY_SOURCE };

export type InstallAction = 'installed' | 'upgraded' | 'unchanged';

/** True for the errors Redis gives when a function (or the whole library) is not loaded. */
export function isMissingFunctionError(error: unknown): boolean {
  return (
    error instanceof Error && /Function not found|NOSCRIPT|No such library/i.test(error.message)
  );
}

async function installOn(node: Redis): Promise<InstallAction> {
  let serverVersion: number | null = null;
  try {
    serverVersion = Number(await node.fcall_ro('jobgate_version', 0));
  } catch (error) {
    if (!isMissingFunctionError(error)) throw error;
  }
  if (serverVersion !== null && serverVersion > LIBRARY_VERSION) {
    throw new LibraryVersionError(serverVersion, LIBRARY_VERSION);
  }
  if (serverVersion === LIBRARY_VERSION) return 'unchanged';
  await node.function('LOAD', 'REPLACE', LIBRARY_SOURCE);
  return serverVersion === null ? 'installed' : 'upgraded';
}

/**
 * Makes sure every node that can serve the namespace runs this package's library: missing ->
 * load, older -> replace, equal -> keep, newer -> LibraryVersionError (nothing changed). On a
 * Cluster, FUNCTION LOAD reaches one node only, so it loads on every master.
 */
export async function installLibrary(client: Redis | Cluster): Promise<InstallAction> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const actions = await Promise.all(nodes.map((node) => installOn(node)));
  if (actions.includes('installed')) return 'installed';
  if (actions.includes('upgraded')) return 'upgraded';
  return 'unchanged';
}
