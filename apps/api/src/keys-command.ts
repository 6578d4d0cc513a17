import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ApiKeyStore } from './auth.js';
import { ConfigError, loadConfig } from './config.js';

const USAGE = `usage:
  keys create --customer <id> [--label <text>]   create a key; it is printed once and stored hashed
  keys list --customer <id>                      list a customer's key ids (never the keys)
  keys revoke <key-id>                           revoke a key
environment: REDIS_URL (required), QUEUE_NAMESPACE (default jq)`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The `keys` admin command; returns the process exit code. */
export async function runKeysCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        customer: { type: 'string' },
        label: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || !command) {
    (parsed.values.help ? io.out : io.err)(USAGE);
    return parsed.values.help ? 0 : 2;
  }
  if (!['create', 'list', 'revoke'].includes(command)) {
    io.err(`unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  if ((command === 'create' || command === 'list') && !parsed.values.customer) {
    io.err(`keys ${command} needs --customer <id>\n${USAGE}`);
    return 2;
  }
  if (command === 'revoke' && rest.length !== 1) {
    io.err(`keys revoke needs exactly one key id\n${USAGE}`);
    return 2;
  }

  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    io.err(error instanceof ConfigError ? error.message : String(error));
    return 2;
  }
  const redis = new Redis(config.redisUrl, {
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    connectTimeout: 5_000,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const store = new ApiKeyStore(redis, config.namespace, 0);
    if (command === 'create') {
      const created = await store.create(parsed.values.customer!, parsed.values.label ?? '');
      io.out(created.key);
      io.err(
        `Created key ${created.keyId} for customer ${created.customerId}. It is shown only this once; store it now.`,
      );
    } else if (command === 'list') {
      for (const key of await store.list(parsed.values.customer!)) {
        io.out(`${key.keyId}\t${key.createdAt}\t${key.label}`);
      }
    } else {
      if (!(await store.revoke(rest[0]!))) {
        io.err(`no key with id ${rest[0]}`);
        return 1;
      }
      io.err(`revoked ${rest[0]}`);
    }
    return 0;
  } catch (error) {
    io.err(`keys ${command} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    redis.disconnect();
  }
}
