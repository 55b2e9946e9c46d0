import { describe, expect, it } from 'vitest';
import { previousTag, releaseTag, splitRef } from '../../scripts/tool/local/release.js';

describe('release names', () => {
  it('splits an image reference at the tag, not at a registry port', () => {
    expect(splitRef('webstack/app:test')).toEqual({ repo: 'webstack/app', tag: 'test' });
    expect(splitRef('webstack/app')).toEqual({ repo: 'webstack/app', tag: 'latest' });
    expect(splitRef('registry.local:5000/webstack/app')).toEqual({
      repo: 'registry.local:5000/webstack/app',
      tag: 'latest',
    });
    expect(splitRef('registry.local:5000/webstack/app:v2')).toEqual({
      repo: 'registry.local:5000/webstack/app',
      tag: 'v2',
    });
  });

  it('names a release after its tag and the UTC second it was built', () => {
    expect(releaseTag('latest', new Date('2026-11-22T12:51:27.456Z'))).toBe('latest-r20261122T125127Z');
    expect(previousTag('latest')).toBe('latest-previous');
  });
});
