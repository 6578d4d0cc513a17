import { describe, expect, it } from 'vitest';
import { drain, DrainError } from './drain.js';

function source(...ids: string[]) {
  let i = 0;
  return () => Promise.resolve(i < ids.length ? { id: ids[i++]! } : null);
}

describe('drain', () => {
  it('returns every item in order until the source is empty', async () => {
    const items = await drain(source('a', 'b', 'c'), { max: 3, id: (x) => x.id, what: 'claims' });
    expect(items.map((x) => x.id)).toEqual(['a', 'b', 'c']);
  });

  it('fails at the first item handed out twice instead of looping forever', async () => {
    const again = () => Promise.resolve({ id: 'job-1' });
    const error = await drain(again, { max: 1_000, id: (x) => x.id, what: 'claims of w' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DrainError);
    expect((error as Error).message).toBe(
      'drain: claims of w gave job-1 a second time (item 2; at most 1000 expected)',
    );
  });

  it('fails past max distinct items', async () => {
    await expect(
      drain(source('a', 'b', 'c'), { max: 2, id: (x) => x.id, what: 'claims' }),
    ).rejects.toThrow('drain: claims gave more than the 2 items expected (next: c)');
  });
});
