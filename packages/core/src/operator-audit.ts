import type { Cluster, Redis } from 'ioredis';

/** One operator action (monitor button or `ops` command), as `{ns}:ops:audit` keeps it. */
export interface OperatorAction {
  at: number;
  /** The operator key's id, or `cli` for `ops` commands. */
  key_id: string;
  /** The key's label, or `ops (<user>@<host>)`. */
  label: string;
  /** e.g. cancel, retry, reap, drain, undrain. */
  action: string;
  /** A job id, a worker id, or `*`. */
  target: string;
  result: string;
}

export function operatorAuditKey(namespace: string): string {
  return `{${namespace}}:ops:audit`;
}

/** Appends to the audit stream (capped near 10 000 entries); -> the entry id. */
export async function recordOperatorAction(
  redis: Redis | Cluster,
  namespace: string,
  action: Omit<OperatorAction, 'at'> & { at?: number },
): Promise<string> {
  const id = await redis.xadd(
    operatorAuditKey(namespace),
    'MAXLEN',
    '~',
    '10000',
    '*',
    'at',
    String(action.at ?? Date.now()),
    'key_id',
    action.key_id,
    'label',
    action.label,
    'action',
    action.action,
    'target',
    action.target,
    'result',
    action.result,
  );
  return id ?? '';
}

/** The newest `count` actions, newest first. */
export async function recentOperatorActions(
  redis: Redis | Cluster,
  namespace: string,
  count: number,
): Promise<OperatorAction[]> {
  const entries = await redis.xrevrange(operatorAuditKey(namespace), '+', '-', 'COUNT', count);
  return entries.map(([, fields]) => {
    const m: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) m[fields[i]!] = fields[i + 1]!;
    return {
      at: Number(m.at),
      key_id: m.key_id ?? '',
      label: m.label ?? '',
      action: m.action ?? '',
      target: m.target ?? '',
      result: m.result ?? '',
    };
  });
}
