import { describe, expect, it } from 'vitest';
import { planShipment, registryRef } from '../../scripts/tool/remote/ship.js';
import { asRoot, explainSshFailure, hostLabel, parseHost, shellQuote, sshArgs } from '../../scripts/tool/remote/ssh.js';

describe('SSH hosts', () => {
  it('parses user@host[:port], with root and 22 as defaults', () => {
    expect(parseHost('deploy@203.0.113.7:2222')).toEqual({ user: 'deploy', host: '203.0.113.7', port: 2222 });
    expect(parseHost('vps.example.com')).toEqual({ user: 'root', host: 'vps.example.com', port: 22 });
    expect(parseHost('root@[2001:db8::1]:22', { identity: '/k' })).toEqual({
      user: 'root',
      host: '2001:db8::1',
      port: 22,
      identity: '/k',
    });
    expect(hostLabel(parseHost('root@[2001:db8::1]:2200'))).toBe('root@[2001:db8::1]:2200');
    expect(hostLabel(parseHost('a@b'))).toBe('a@b');
  });

  it('refuses what is not a host, naming the expected form', () => {
    for (const bad of [
      '',
      'root@',
      'root@host:0',
      'root@host:70000',
      'ro ot@host',
      'root@host;rm -rf /',
      '-oProxyCommand=x',
    ]) {
      expect(() => parseHost(bad), bad).toThrow(/user@host|between 1 and 65535/);
    }
  });

  it('builds an ssh command line that never prompts and ends with the destination after --', () => {
    const args = sshArgs(parseHost('deploy@10.0.0.2:2222', { identity: '/keys/id', knownHosts: '/kh' }), ['-N']);
    expect(args.slice(-2)).toEqual(['--', '10.0.0.2']);
    expect(args.join(' ')).toContain('-o BatchMode=yes');
    expect(args.join(' ')).toContain('-i /keys/id -o IdentitiesOnly=yes');
    expect(args.join(' ')).toContain('-o UserKnownHostsFile=/kh');
    expect(args.join(' ')).toContain('-p 2222 -l deploy -N --');
  });

  it('quotes words for the remote shell and runs as root through sudo only when needed', () => {
    expect(shellQuote('webstack/app:v1')).toBe('webstack/app:v1');
    expect(shellQuote("it's $HOME; rm")).toBe(`'it'\\''s $HOME; rm'`);
    expect(asRoot(parseHost('root@h'), 'docker ps')).toBe('docker ps');
    expect(asRoot(parseHost('deploy@h'), "echo 'x'")).toBe(`sudo -n sh -c 'echo '\\''x'\\'''`);
  });

  it("explains ssh's own failures with what to do next", () => {
    const host = parseHost('root@10.9.9.9', { identity: '/tmp/key' });
    expect(explainSshFailure(host, 'ssh: connect to host 10.9.9.9 port 22: Connection timed out')).toMatch(
      /unreachable: check the address/,
    );
    expect(explainSshFailure(host, 'ssh: connect to host 10.9.9.9 port 22: Connection refused')).toMatch(
      /nothing accepts SSH connections on port 22/,
    );
    expect(explainSshFailure(host, 'root@10.9.9.9: Permission denied (publickey).')).toMatch(
      /refused the key \/tmp\/key: add its public key/,
    );
    expect(explainSshFailure(host, 'ssh: Could not resolve hostname nope: Name or service not known')).toMatch(
      /cannot resolve/,
    );
    expect(explainSshFailure(host, 'Host key verification failed.')).toMatch(/ssh-keygen -R 10.9.9.9/);
  });
});

describe('shipping images', () => {
  it('sends only what the server lacks, tags what it has under another name', () => {
    const plan = planShipment(
      [
        { ref: 'webstack/app:v2', id: 'sha256:new' },
        { ref: 'webstack/nginx:v2', id: 'sha256:ngx' },
        { ref: 'webstack/certs:v2', id: 'sha256:certs' },
      ],
      [
        { ref: 'webstack/nginx:v1', id: 'sha256:ngx' },
        { ref: 'webstack/certs:v2', id: 'sha256:certs' },
        { ref: 'webstack/app:v2', id: 'sha256:old' },
      ],
    );
    expect(plan.send.map((i) => i.ref)).toEqual(['webstack/app:v2']);
    expect(plan.retag.map((i) => i.ref)).toEqual(['webstack/nginx:v2']);
    expect(plan.present.map((i) => i.ref)).toEqual(['webstack/certs:v2']);
  });

  it('names images in a registry, refusing what is not a registry address', () => {
    expect(registryRef('registry.local:5000', 'webstack/app:v1')).toBe('registry.local:5000/webstack/app:v1');
    expect(registryRef('https://r.example.com/team/', 'webstack/app:v1')).toBe('r.example.com/team/webstack/app:v1');
    expect(() => registryRef('not a registry', 'x:y')).toThrow(/REGISTRY "not a registry"/);
  });
});
