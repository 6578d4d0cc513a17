import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from './git.js';

/** The index (the staged content) as files, for tools that read files. */
export interface IndexCheckout {
  dir: string;
  /** Reused from run to run: incremental state (tsbuildinfo) may be kept beside it. */
  reused: boolean;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One precommit at a time per reused checkout; a lock left by a dead process is taken over. */
function lock(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
      const pid = Number(readFileSync(file, 'utf8'));
      if (pid > 0 && alive(pid)) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}

/**
 * Removes everything under `dir` that is not a file of the index (a file deleted from the index
 * since the last run, test output, anything a tool wrote), except the node_modules links.
 * Returns whether `dir` ended up empty.
 */
function prune(dir: string, rel: string, keep: ReadonlySet<string>, links: ReadonlySet<string>) {
  let empty = true;
  for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (prune(dir, path, keep, links)) rmdirSync(join(dir, path));
      else empty = false;
    } else if (keep.has(path) || (entry.isSymbolicLink() && links.has(path))) {
      empty = false;
    } else {
      unlinkSync(join(dir, path));
    }
  }
  return empty;
}

/** Each directory's node_modules from the working tree, so tools and packages resolve as there. */
function linkModules(root: string, dir: string, linkDirs: readonly string[]): void {
  for (const linkDir of linkDirs) {
    const target = join(root, linkDir, 'node_modules');
    const link = join(dir, linkDir, 'node_modules');
    if (!existsSync(target) || !existsSync(join(dir, linkDir))) continue;
    let current: string | undefined;
    try {
      current = readlinkSync(link);
    } catch {
      // not a link: a node_modules the index tracks stays as it is
      if (existsSync(link)) continue;
    }
    if (current === target) continue;
    if (current !== undefined) unlinkSync(link);
    symlinkSync(target, link);
  }
}

/**
 * Checks out the index (honouring GIT_INDEX_FILE) into `<base>/tree`, the same directory every run,
 * so a typecheck there can be incremental: files no longer in the index (and anything else that is
 * not an index file) are removed first, then every index file is written. When another precommit
 * holds that directory, a throwaway temp directory is used instead.
 * `linkDirs`: directories (relative to the root, `.` for the root) that get a node_modules link.
 */
export function checkoutIndex(
  root: string,
  base: string,
  linkDirs: readonly string[],
): IndexCheckout {
  mkdirSync(base, { recursive: true });
  const lockFile = join(base, 'lock');
  const reused = lock(lockFile);
  const dir = reused ? join(base, 'tree') : mkdtempSync(join(tmpdir(), 'gate-precommit-'));
  try {
    if (reused) {
      mkdirSync(dir, { recursive: true });
      const keep = new Set(git(root, ['ls-files', '--cached', '-z']).split('\0').filter(Boolean));
      const links = new Set(
        linkDirs.map((linkDir) => (linkDir === '.' ? '' : `${linkDir}/`) + 'node_modules'),
      );
      prune(dir, '', keep, links);
    }
    git(root, ['checkout-index', '--all', '--force', `--prefix=${dir}/`]);
    linkModules(root, dir, linkDirs);
  } catch (error) {
    if (reused) rmSync(lockFile, { force: true });
    else rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    reused,
    release: () => {
      if (reused) rmSync(lockFile, { force: true });
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}
