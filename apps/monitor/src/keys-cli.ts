import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from './config.js';
import { OPERATOR_ROLES, OperatorKeyStore, type OperatorRole } from './operator-keys.js';

const USAGE = `usage:
  keys create --role operator|read-only [--label <text>]   create an operator key; printed once, stored hashed
  keys list                                                 key ids, roles, labels (never the keys)
  keys revoke <key-id>
environment: REDIS_URL (required), QUEUE_NAMESPACE (default jq)`;

async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        role: { type: 'string' },
        label: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!command || !['create', 'list', 'revoke'].includes(command)) {
    console.error(
      `${command ? `unknown command "${command}"` : 'a command is required'}\n${USAGE}`,
    );
    return 2;
  }
  const role = parsed.values.role as OperatorRole | undefined;
  if (command === 'create' && (!role || !OPERATOR_ROLES.includes(role))) {
    console.error(`keys create needs --role operator or --role read-only\n${USAGE}`);
    return 2;
  }
  if (command === 'revoke' && rest.length !== 1) {
    console.error(`keys revoke needs exactly one key id\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : String(error));
    return 2;
  }
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const store = new OperatorKeyStore(redis, config.namespace);
    if (command === 'create') {
      const created = await store.create(role!, parsed.values.label ?? '');
      console.log(created.key);
      console.error(
        `Created ${role} key ${created.keyId}. It is shown only this once; store it now.`,
      );
    } else if (command === 'list') {
      for (const k of await store.list())
        console.log(`${k.keyId}\t${k.role}\t${k.createdAt}\t${k.label}`);
    } else if (!(await store.revoke(rest[0]!))) {
      console.error(`no operator key with id ${rest[0]}`);
      return 1;
    } else console.error(`revoked ${rest[0]}`);
    return 0;
  } catch (error) {
    console.error(`keys ${command} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

process.exitCode = await run(process.argv.slice(2));
