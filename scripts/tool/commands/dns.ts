// scripts/dns: the zone records a real domain needs, and a check of what resolvers answer.
import { defineCommand } from './define.js';

const options = {
  domain: { type: 'string', value: 'www.D', help: "the site's name (default .env's SITE_DOMAIN, else www.foobar.com)" },
  ipv4: { type: 'string', value: 'IP', help: "the server's public IPv4 address (default .env's SERVER_IPV4)" },
  ipv6: { type: 'string', value: 'IP', help: "the server's public IPv6 address (default .env's SERVER_IPV6)" },
  caa: {
    type: 'string',
    value: 'CA',
    help: "the only CA allowed to issue (default .env's ACME_CAA_IDENTITY, else letsencrypt.org)",
  },
} as const;

export const dns = {
  name: 'dns',
  summary: 'the DNS records a real domain needs, and a check of what resolvers answer',
  details: 'Settings come from the flags, then .env and the environment (the environment wins over .env).',
  subcommands: [
    defineCommand({
      name: 'records',
      summary: 'the zone records for SITE_DOMAIN, as a zone file and a table',
      options,
      async run(values) {
        const { dnsRecords } = await import('../dns/commands.js');
        console.log(dnsRecords(values));
      },
    }),
    defineCommand({
      name: 'check',
      summary: 'resolve them and say exactly what is wrong (as issuance does)',
      options: {
        ...options,
        resolver: {
          type: 'string',
          value: 'HOST[:PORT]',
          help: "ask this resolver (default .env's DNS_RESOLVER, else the system's)",
        },
      },
      async run(values) {
        const { dnsCheck } = await import('../dns/commands.js');
        const { ok, report } = await dnsCheck(values);
        console.log(report);
        if (!ok) process.exitCode = 1;
      },
    }),
  ],
};
