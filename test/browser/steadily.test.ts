import { describe, expect, it } from 'vitest';
import { steadily } from '../support/browser.js';

// The browser tests lean on this to survive the other lanes' Docker networks coming and
// going; it must not hide any other failure.
describe('steadily (a navigation tried again only when Chromium saw the network change)', () => {
  const failing = (messages: string[]) => {
    let calls = 0;
    const navigation = async () => {
      const message = messages[calls++];
      if (message !== undefined) throw new Error(message);
      return 'loaded';
    };
    return { navigation, calls: () => calls };
  };

  it('tries again after ERR_NETWORK_CHANGED and returns what the navigation returned', async () => {
    const { navigation, calls } = failing(['page.goto: net::ERR_NETWORK_CHANGED at https://localhost/']);
    expect(await steadily(navigation)).toBe('loaded');
    expect(calls()).toBe(2);
  });

  it('lets any other failure through at once', async () => {
    const { navigation, calls } = failing(['page.goto: net::ERR_CERT_AUTHORITY_INVALID at https://localhost/']);
    await expect(steadily(navigation)).rejects.toThrow('ERR_CERT_AUTHORITY_INVALID');
    expect(calls()).toBe(1);
  });

  it('gives up after four tries', async () => {
    const { navigation, calls } = failing(Array(5).fill('net::ERR_NETWORK_CHANGED'));
    await expect(steadily(navigation)).rejects.toThrow('ERR_NETWORK_CHANGED');
    expect(calls()).toBe(4);
  });
});
