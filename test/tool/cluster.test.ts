import { describe, expect, it } from 'vitest';
import { engineTooOld } from '../../scripts/tool/cluster/swarm.js';

describe('scripts/cluster init: the engine every node needs', () => {
  it('accepts Docker Engine 25 and later, as Debian and Docker package it', () => {
    for (const version of ['25.0.0', '26.1.5+dfsg1', '28.3.2\n']) expect(engineTooOld('n1', version)).toBeUndefined();
  });

  it('refuses an older engine, naming the node, its version and what to do', () => {
    expect(engineTooOld('root@203.0.113.11', '20.10.24+dfsg1')).toMatch(
      /^root@203\.0\.113\.11 runs Docker Engine 20\.10\.24\+dfsg1; the stack needs 25 or later .*install a newer engine there/,
    );
    expect(engineTooOld('n2', '')).toMatch(/^n2 runs Docker Engine of an unknown version/);
  });
});
