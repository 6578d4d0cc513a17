// @ts-check
/**
 * The gate runs from one esbuild bundle of its TypeScript sources (and the workspace packages they
 * import), cached under node_modules/.cache: registering tsx and transpiling every module at each
 * start was about half of the gate's overhead on a fully cached run.
 *
 * The cache is keyed by the content of every file that went into the bundle (as esbuild read it)
 * plus this file and bin/gate.mjs: when any of them changes, the next start rebuilds (about 0.1 s),
 * so a stale bundle is never run. Packages from node_modules are not bundled: they are imported
 * from the absolute paths esbuild resolved, which the cache also checks still exist.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, extname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** @typedef {{ version: 1, entry: string, key: string, dir: string, inputs: string[], externals: string[] }} Manifest */

/** @type {Record<string, import('esbuild').Loader>} */
const LOADERS = {
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.tsx': 'tsx',
  '.js': 'js',
  '.mjs': 'js',
  '.cjs': 'js',
  '.json': 'json',
};

/** The settings of tooling/tsconfig that change emitted code, fixed so tsconfig files need no key. */
const TSCONFIG = {
  compilerOptions: { target: 'ES2023', useDefineForClassFields: true, verbatimModuleSyntax: true },
};

/**
 * Bundles of an earlier key are removed once this old: a gate started from one loads all its chunks
 * in its first second, so a day leaves ample room.
 */
const KEEP_OLD_MS = 24 * 60 * 60_000;

const BIN = dirname(fileURLToPath(import.meta.url));
const SALT_FILES = [join(BIN, 'bundle.mjs'), join(BIN, 'gate.mjs')];

/**
 * @param {Iterable<[string, Uint8Array]>} files
 * @param {string} entry
 */
function keyOf(files, entry) {
  const hash = createHash('sha256').update(`v1\0${entry}`);
  for (const [file, content] of files)
    hash.update(`\0${file}\0${content.length}\0`).update(content);
  return hash.digest('hex');
}

/** @param {string[]} files */
function readAll(files) {
  /** @type {[string, Uint8Array][]} */
  const read = [];
  for (const file of files) {
    try {
      read.push([file, readFileSync(file)]);
    } catch {
      return undefined;
    }
  }
  return read;
}

/**
 * The bundled entry's file URL when the cached bundle was built from exactly the files on disk now.
 * @param {string} entry
 * @param {string} cacheDir
 */
export function cachedBundle(entry, cacheDir) {
  /** @type {Manifest} */
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(cacheDir, 'manifest.json'), 'utf8'));
  } catch {
    return undefined;
  }
  if (manifest.version !== 1 || manifest.entry !== entry) return undefined;
  if (!manifest.externals.every((file) => existsSync(file))) return undefined;
  const files = readAll([...SALT_FILES, ...manifest.inputs]);
  if (!files || keyOf(files, entry) !== manifest.key) return undefined;
  const main = join(cacheDir, manifest.dir, 'main.mjs');
  return existsSync(main) ? pathToFileURL(main).href : undefined;
}

/**
 * Bundles `entry` into `cacheDir/<key>/main.mjs` (with split chunks, so lazy imports stay lazy) and
 * records it as the cached bundle. Returns its file URL.
 * @param {string} entry
 * @param {string} cacheDir
 */
export async function buildBundle(entry, cacheDir) {
  const esbuild = await import('esbuild');
  /** @type {Map<string, Uint8Array>} */
  const loaded = new Map();
  /** @type {Set<string>} */
  const externals = new Set();
  const skip = Symbol('resolving');
  const own = `${packageDir(entry)}${sep}`;
  const tmp = join(cacheDir, `tmp-${process.pid}-${Date.now()}`);
  mkdirSync(cacheDir, { recursive: true });
  try {
    await esbuild.build({
      entryPoints: { main: entry },
      outdir: tmp,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      tsconfigRaw: TSCONFIG,
      logLevel: 'silent',
      plugins: [
        {
          name: 'jobgate-gate-sources',
          setup(build) {
            // Packages from node_modules are imported in place, by absolute path. Workspace
            // packages (testkit) are bundled as side-effect free, so their modules the gate does
            // not use (the HTTP and WebSocket fakes, and `ws` with them) are left out.
            build.onResolve({ filter: /.*/ }, async (args) => {
              if (args.pluginData === skip || args.kind === 'entry-point') return undefined;
              const resolved = await build.resolve(args.path, {
                kind: args.kind,
                importer: args.importer,
                resolveDir: args.resolveDir,
                pluginData: skip,
              });
              if (resolved.errors.length > 0 || resolved.external) return resolved;
              if (resolved.path.includes(`${sep}node_modules${sep}`)) {
                externals.add(resolved.path);
                return { path: pathToFileURL(resolved.path).href, external: true };
              }
              if (resolved.path.startsWith(own)) return resolved;
              return { ...resolved, sideEffects: false };
            });
            // Every file that goes into the bundle, exactly as compiled: the cache key.
            build.onLoad({ filter: /.*/ }, (args) => {
              const contents = readFileSync(args.path);
              loaded.set(args.path, contents);
              return { contents, loader: LOADERS[extname(args.path)] ?? 'js' };
            });
          },
        },
      ],
    });
    const inputs = [...loaded.keys()].sort();
    const salt = readAll(SALT_FILES);
    if (!salt) throw new Error('cannot read the gate launcher');
    const key = keyOf(
      [
        ...salt,
        ...inputs.map(
          (file) =>
            /** @type {[string, Uint8Array]} */ ([file, loaded.get(file) ?? new Uint8Array()]),
        ),
      ],
      entry,
    );
    const dir = key.slice(0, 16);
    const target = join(cacheDir, dir);
    // Renamed whole, so a bundle directory is always complete; another gate may have won the race.
    if (!existsSync(join(target, 'main.mjs'))) {
      try {
        renameSync(tmp, target);
      } catch (error) {
        if (!existsSync(join(target, 'main.mjs'))) throw error;
      }
    }
    /** @type {Manifest} */
    const manifest = { version: 1, entry, key, dir, inputs, externals: [...externals].sort() };
    const manifestTmp = join(cacheDir, `manifest-${process.pid}.json`);
    writeFileSync(manifestTmp, `${JSON.stringify(manifest, null, 1)}\n`);
    renameSync(manifestTmp, join(cacheDir, 'manifest.json'));
    removeOld(cacheDir, dir);
    return pathToFileURL(join(target, 'main.mjs')).href;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The directory of the package that contains `file`.
 * @param {string} file
 */
function packageDir(file) {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return dirname(file);
  }
}

/**
 * @param {string} cacheDir
 * @param {string} current
 */
function removeOld(cacheDir, current) {
  for (const name of readdirSync(cacheDir)) {
    if (name === current || name === 'manifest.json') continue;
    const path = join(cacheDir, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > KEEP_OLD_MS)
        rmSync(path, { recursive: true, force: true });
    } catch {
      // another gate removed it
    }
  }
}

/**
 * The URL to import the gate's CLI from: the cached bundle, a fresh one, or undefined when bundling
 * is impossible here (then the caller runs the sources through tsx).
 * @param {string} entry
 * @param {string} cacheDir
 */
export async function bundledCli(entry, cacheDir) {
  const cached = cachedBundle(entry, cacheDir);
  if (cached) return cached;
  try {
    return await buildBundle(entry, cacheDir);
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    console.error(`gate: running from source (${basename(entry)} not bundled: ${message})`);
    return undefined;
  }
}
