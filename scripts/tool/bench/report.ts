import type { BenchReport, Step } from './run.js';

const VIA_MEANING: Record<Step['via'], string> = {
  'published port': "from the host to the published port (through Docker's userland proxy) to nginx",
  nginx: 'to nginx on 127.0.0.1:443 (HTTPS) inside the server namespace (what host networking gives)',
  'app direct': 'to the app on 127.0.0.1:5000 inside the namespace, no proxy',
  'app direct, no metrics': 'to another app process on 127.0.0.1:5003, same image, METRICS_ENABLED=false',
  'bare nginx':
    "to a stock-config nginx (same base image) inside the namespace over HTTPS with the site's certificate (TLS and keep-alive at nginx's defaults), serving the same files",
  'nginx, 2 apps': 'to an nginx with our configuration whose upstream lists two app processes (5000, 5001)',
  'nginx, logging off':
    'the control: to an nginx with our configuration but `access_log off` and no status log, in front of an app with LOG_LEVEL=silent (5002)',
  'app direct, logging off': 'the control: to that app with LOG_LEVEL=silent, no proxy',
  'bare Fastify':
    "to a minimal Fastify + mysql2 server on 127.0.0.1:5004 from the app's image: the app's statement, pool size and response schema, nothing else (`scripts/tool/bench/bare-fastify.mjs`)",
  'nginx, no status log':
    "to an nginx like the live one (same app behind it) but without the monitor's status log (STATUS_LOG unset), port 8084",
  'nginx, Gunicorn example':
    "to an nginx like the live one on port 8085 in front of the Gunicorn example (examples/gunicorn: Flask and PyMySQL, its own workers and threads) on 5005, reading 20 of its entries from a database of the bench's own",
};

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const int = (n: number) => Math.round(n).toLocaleString('en-US');

function stepRow(s: Step, first: string): string {
  const r = s.result;
  return `| ${first} | ${int(r.requestsPerSecond)} | ${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ${fixed(r.maxMs)} | ${r.errors} | ${r.non2xx} | ${fixed(s.appRssMiB)} | ${fixed(s.dbCpuPercent, 0)} | ${fixed(s.logCpuMsPer1k)} | ${fixed(s.shimCpuMsPer1k)} |`;
}

const STEP_HEADER =
  'req/s | p50 ms | p99 ms | max ms | errors | non-2xx | app RSS MiB | db CPU % | log CPU ms/1k | shims ms/1k';

/** The per-route table, ratios and sweep as markdown. */
export function markdownTables(report: BenchReport): string {
  const o = report.options;
  const lines = [
    `Per route, ${o.connections} connections, ${o.warmupSeconds} s warm-up then ${o.seconds} s measured; ` +
      `the median of ${o.rounds} interleaved round${o.rounds === 1 ? '' : 's'}:`,
    '',
    `| route | via | ${STEP_HEADER} |`,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...report.steps.map((s) => stepRow(s, `${s.route} | ${s.via}`)),
    '',
    "log CPU ms/1k: CPU time of dockerd and the stack's containerd-shims (Docker's log pipeline) during the step, " +
      "per 1,000 requests, from the host's /proc. It includes dockerd's work to start and stop wrk's container (the " +
      "logging-off rows show that floor), and dockerd serves the machine's other containers too; shims ms/1k is the " +
      "shims' part alone, this stack's output only.",
    '',
    `Each ratio is worked out per round, from that round's two steps; the table gives the median round and the range. ` +
      `Load average (1 min) as each round began: ${report.machine.roundLoad.map((l) => l.toFixed(2)).join(', ')}.`,
    '',
    '| ratio (same run) | median | range | target | met (median) |',
    '| --- | ---: | ---: | ---: | --- |',
    ...report.ratios.map(
      (r) =>
        `| ${r.name} | ${fixed(r.value, 2)} | ${fixed(r.min, 2)}–${fixed(r.max, 2)} | ${r.target === undefined ? '' : `≥ ${r.target}`} | ${r.target === undefined ? '' : r.value >= r.target ? 'yes' : 'no'} |`,
    ),
    `| app RSS, peak under load | ${fixed(report.maxAppRssMiB)} MiB | | ≤ 150 MB | ${report.maxAppRssMiB * 1.048576 <= 150 ? 'yes' : 'no'} |`,
    `| errors + non-2xx in the sweep up to the knee (${report.kneeConnections} connections) | ${report.sweepErrorsUpToKnee} | | 0 | ${report.sweepErrorsUpToKnee === 0 ? 'yes' : 'no'} |`,
    '',
    `Connection sweep, GET /api/posts through nginx inside the namespace (${o.seconds} s each):`,
    '',
    `| connections | ${STEP_HEADER} |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...report.sweep.map((s) => stepRow(s, String(s.connections))),
    '',
    `Knee: ${report.kneeConnections} connections, the fewest that reach 90 % of the sweep's peak throughput; more connections add latency, not throughput.`,
    '',
    "Memory per container, as `docker stats` shows it (the cgroup's usage less its inactive page cache): at rest before the first step, and the most read right after each round of the per-route table and after the sweep (under load):",
    '',
    '| container | at rest MiB | under load MiB |',
    '| --- | ---: | ---: |',
    ...report.memory.map((m) => `| ${m.service} | ${fixed(m.restMiB)} | ${fixed(m.loadMiB)} |`),
  ];
  return lines.join('\n');
}

/** The whole results file. */
export function markdownReport(report: BenchReport, chartFile: string, command: string): string {
  const o = report.options;
  const m = report.machine;
  const pinned =
    o.generatorCpus === undefined ? 'not pinned' : `pinned to CPU ${o.generatorCpus} (docker --cpuset-cpus)`;
  return [
    '# webstack benchmark',
    '',
    `Run ${report.startedAt} with \`${command}\` on ${m.cpus} × ${m.cpuModel} (load average after the run: ${m.loadAverage.map((l) => l.toFixed(2)).join(', ')}).`,
    '',
    `The load generator is wrk (one thread) in a container, ${pinned}. **It shares the machine's ${m.cpus} cores with nginx, the app and the database**, so absolute figures are lower than with a separate load machine; the ratios compare paths measured in the same run under the same conditions. Requests carry \`Host: www.foobar.com\` and \`Accept-Encoding: gzip\`, over keep-alive connections. The posts table held ${report.seeded.before + report.seeded.inserted} rows at the start (POST steps add more).`,
    '',
    markdownTables(report),
    '',
    'Via:',
    ...Object.entries(VIA_MEANING).map(([via, meaning]) => `- **${via}**: ${meaning}`),
    '',
    `![throughput per route and the connection sweep](${chartFile})`,
    '',
  ].join('\n');
}

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** A plain SVG: bars of req/s per route and path, and the sweep's throughput and p99 curves. */
export function svgChart(report: BenchReport): string {
  const width = 900;
  const barH = 18;
  const barsTop = 50;
  const labelW = 330;
  const barsW = width - labelW - 90;
  const maxRps = Math.max(...report.steps.map((s) => s.result.requestsPerSecond), 1);
  const out: string[] = [];
  const text = (x: number, y: number, s: string, extra = '') =>
    out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${extra}>${esc(s)}</text>`);

  text(
    10,
    24,
    `Requests per second, ${report.options.connections} connections (wrk shares the ${report.machine.cpus} cores with the stack)`,
    ' font-weight="bold"',
  );
  report.steps.forEach((s, i) => {
    const y = barsTop + i * (barH + 6);
    const w = (s.result.requestsPerSecond / maxRps) * barsW;
    text(labelW - 8, y + barH - 5, `${s.route} — ${s.via}`, ' text-anchor="end"');
    out.push(
      `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${s.via === 'published port' ? '#9ab' : '#37a'}"/>`,
    );
    text(labelW + w + 6, y + barH - 5, int(s.result.requestsPerSecond));
  });

  // Sweep: x is log2(connections); throughput on the left axis, p99 on the right.
  const top = barsTop + report.steps.length * (barH + 6) + 60;
  const plotX = 80;
  const plotW = width - 160;
  const plotH = 260;
  const sweep = report.sweep;
  const logs = sweep.map((s) => Math.log2(s.connections));
  const minLog = Math.min(...logs);
  const spanLog = Math.max(...logs) - minLog || 1;
  const x = (c: number) => plotX + ((Math.log2(c) - minLog) / spanLog) * plotW;
  const maxSweepRps = Math.max(...sweep.map((s) => s.result.requestsPerSecond), 1);
  const maxP99 = Math.max(...sweep.map((s) => s.result.p99Ms), 0.001);
  const yRps = (v: number) => top + plotH - (v / maxSweepRps) * plotH;
  const yP99 = (v: number) => top + plotH - (v / maxP99) * plotH;

  text(
    10,
    top - 24,
    `Connection sweep: GET /api/posts through nginx — req/s (blue, left) and p99 ms (orange, right); knee at ${report.kneeConnections}`,
    ' font-weight="bold"',
  );
  out.push(`<rect x="${plotX}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (const s of sweep) text(x(s.connections), top + plotH + 16, String(s.connections), ' text-anchor="middle"');
  text(plotX + plotW / 2, top + plotH + 34, 'connections (log scale)', ' text-anchor="middle"');
  text(plotX - 6, top + 10, int(maxSweepRps), ' text-anchor="end" fill="#37a"');
  text(plotX - 6, top + plotH, '0', ' text-anchor="end"');
  text(plotX + plotW + 6, top + 10, `${fixed(maxP99)} ms`, ' fill="#d62"');
  const line = (pts: [number, number][], colour: string) => {
    out.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`,
    );
    for (const [a, b] of pts) out.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${colour}"/>`);
  };
  line(
    sweep.map((s) => [x(s.connections), yRps(s.result.requestsPerSecond)]),
    '#37a',
  );
  line(
    sweep.map((s) => [x(s.connections), yP99(s.result.p99Ms)]),
    '#d62',
  );
  const kx = x(report.kneeConnections);
  out.push(
    `<line x1="${kx.toFixed(1)}" y1="${top}" x2="${kx.toFixed(1)}" y2="${top + plotH}" stroke="#888" stroke-dasharray="4 4"/>`,
  );

  const height = top + plotH + 50;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
