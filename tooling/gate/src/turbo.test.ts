import { describe, expect, it } from 'vitest';
import { failedTaskOf, parseTaskLine, remoteCacheTrouble } from './turbo.js';

describe('parseTaskLine', () => {
  it.each([
    [
      '@jobgate/core:test:unit: cache miss, executing 0af7',
      '@jobgate/core#test:unit',
      'cache miss, executing 0af7',
    ],
    ['@jobgate/core:test:unit: a: b: c', '@jobgate/core#test:unit', 'a: b: c'],
    ['@jobgate/core:test:unit:', '@jobgate/core#test:unit', ''],
    ['web:build: done', 'web#build', 'done'],
  ])('reads %j as a line of its task', (line, taskId, text) => {
    expect(parseTaskLine(line)).toEqual({ taskId, text });
  });

  it.each([
    '@jobgate/core#test:unit:  WARNING  command finished with error, but continuing...',
    ' Tasks:    3 successful, 3 total',
    'Summary:    /repo/.turbo/runs/3Ma.json',
    '   • Packages in scope: @jobgate/core',
  ])('treats %j as turbo output, not a task line', (line) => {
    expect(parseTaskLine(line)).toBeUndefined();
  });
});

describe('remoteCacheTrouble', () => {
  it('reads the reason from turbo lines when the remote cache is down', () => {
    expect(
      remoteCacheTrouble([
        '   • Running test:unit in 2 packages',
        ' WARNING     • Remote caching unavailable (Could not connect to "http://127.0.0.1:41998")',
        ' WARNING  could not connect to the cache',
      ]),
    ).toBe('Could not connect to "http://127.0.0.1:41998"');
    expect(remoteCacheTrouble([' WARNING  could not connect to the cache'])).toBe(
      'could not connect to the cache',
    );
  });

  it('says nothing when turbo did not complain', () => {
    expect(
      remoteCacheTrouble(['   • Remote caching enabled', ' Tasks:    3 successful, 3 total']),
    ).toBeUndefined();
  });
});

describe('failedTaskOf', () => {
  it.each([
    [
      '@jobgate/core#test:unit:  WARNING  command finished with error, but continuing...',
      '@jobgate/core#test:unit',
    ],
    ['web#build: ERROR  command finished with error: exit status 1', 'web#build'],
  ])('reads the failed task of %j', (line, taskId) => {
    expect(failedTaskOf(line)).toBe(taskId);
  });

  it.each([
    '@jobgate/core:test:unit: WARNING  command finished with error, but continuing...',
    ' Tasks:    3 successful, 4 total',
    ' Failed:    @jobgate/core#test:unit',
  ])('finds no failed task in %j', (line) => {
    expect(failedTaskOf(line)).toBeUndefined();
  });
});
