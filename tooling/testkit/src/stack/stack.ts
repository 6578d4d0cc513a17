import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../redis.js';
import { waitFor } from '../wait-for.js';
import { launchApp, type AppProcess } from './app-process.js';
import { STACK_SERVICES, type ServiceContext, type ServiceDefinition } from './services.js';

const REPO_ROOT = fileURLToPath(new URL('../../../..', import.meta.url));

export interface StackOptions {
  redisUrl: string;
  namespace: string;
  mode: 'development' | 'test';
  /** Restart an app when its sources change (`pnpm dev`). */
  watch?: boolean;
  /** Each line an app prints, as it comes; output is always collected for error messages. */
  onLine?: (app: AppProcess['name'], line: string, stream: 'stdout' | 'stderr') => void;
  /** Service table; default `STACK_SERVICES`. */
  services?: Record<string, ServiceDefinition>;
  /** Repository root (the folder holding `apps/`). */
  root?: string;
  /**
   * Built start bundles by app folder (`{ worker: '/…/main.js' }`, e.g. from `buildTestBundle`):
   * an app listed here runs its bundle under plain node, the others their sources under tsx.
   */
  bundles?: Readonly<Record<string, string>>;
}

export interface StartOptions {
  /** Instance name (default: the service name, then `<service>-2`, ...). */
  instance?: string;
  /** Extra environment, over the definition's. */
  env?: Record<string, string>;
  /** Port for an HTTP service; default a free one. */
  port?: number;
  readyTimeoutMs?: number;
}

/**
 * Starts services of `STACK_SERVICES` as real processes on one Redis and namespace, each waited
 * for until ready (an app that exits first fails the start at once, with its output), and stops
 * them all, newest first, with one SIGTERM each.
 */
export class Stack implements AsyncDisposable {
  readonly processes: AppProcess[] = [];
  readonly urls: Record<string, string> = {};
  private readonly lines = new Map<AppProcess, string>();
  readonly redis: Redis;
  private readonly counts = new Map<string, number>();
  private stopping: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(readonly options: StackOptions) {
    this.redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
    this.redis.on('error', () => {});
  }

  private definition(service: string): ServiceDefinition {
    const table = this.options.services ?? STACK_SERVICES;
    const found = table[service];
    if (!found) {
      throw new Error(
        `unknown stack service "${service}"; known: ${Object.keys(table).join(', ')}`,
      );
    }
    return found;
  }

  /** The context a definition sees for a new instance (without starting it). */
  context(service: string, instance: string, port: number | undefined): ServiceContext {
    return {
      redisUrl: this.options.redisUrl,
      namespace: this.options.namespace,
      mode: this.options.mode,
      instance,
      port,
      urls: this.urls,
    };
  }

  async start(service: string, options: StartOptions = {}): Promise<AppProcess> {
    const def = this.definition(service);
    const n = (this.counts.get(service) ?? 0) + 1;
    this.counts.set(service, n);
    const instance = options.instance ?? (n === 1 ? service : `${service}-${n}`);
    const port = def.http ? (options.port ?? (await freePort())) : undefined;
    const ctx = this.context(service, instance, port);
    const env = {
      ...def.env(ctx),
      ...(def.http ? { [def.http.portEnv ?? 'PORT']: String(port) } : {}),
      ...options.env,
    };
    const onLine = this.options.onLine;
    const app = launchApp({
      name: instance,
      cwd: `${this.options.root ?? REPO_ROOT}apps/${def.app}`,
      ...(def.entry ? { entry: def.entry } : {}),
      ...(this.options.bundles?.[def.app] ? { bundle: this.options.bundles[def.app] } : {}),
      env,
      watch: this.options.watch ?? false,
      ...(onLine ? { onLine: (line, stream) => onLine(instance, line, stream) } : {}),
    });
    this.processes.push(app);
    const url = def.http ? `http://127.0.0.1:${String(port)}` : undefined;
    const ready = async (): Promise<boolean> => {
      if (def.http) {
        const response = await fetch(`${url}${def.http.readyPath}`).catch(() => undefined);
        return response?.status === 200;
      }
      return def.ready ? def.ready({ ...ctx, env, redis: this.redis }) : true;
    };
    try {
      await Promise.race([
        waitFor(ready, {
          timeoutMs: options.readyTimeoutMs ?? 30_000,
          intervalMs: 100,
          what: `${instance} ready`,
        }),
        app.exited.then((how) => {
          throw new Error(`${instance} exited (${how}) before it was ready`);
        }),
      ]);
    } catch (error) {
      await app.stop('SIGKILL');
      throw new Error(`${(error as Error).message}\n--- ${instance} output ---\n${app.output()}`, {
        cause: error,
      });
    }
    if (url) this.urls[service] ??= url;
    this.lines.set(app, def.describe?.({ ...ctx, env }) ?? '');
    return app;
  }

  /** One line per started instance for a banner: name, pid and the service's `describe`. */
  describe(): string[] {
    return this.processes.map((app) =>
      `${app.name.padEnd(9)} pid ${String(app.child.pid)}   ${this.lines.get(app) ?? ''}`.trimEnd(),
    );
  }

  /** Stops every app at once: one SIGTERM each, SIGKILL after 10 s. `redis` stays open. */
  stopApps(): Promise<void> {
    this.stopping ??= Promise.all(this.processes.map((app) => app.stop('SIGTERM'))).then(
      () => undefined,
    );
    return this.stopping;
  }

  /** Stops every app, then closes `redis`. */
  stop(): Promise<void> {
    this.closing ??= this.stopApps().then(() => this.redis.disconnect());
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
