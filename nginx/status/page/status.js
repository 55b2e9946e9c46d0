// The live whiteboard: one snapshot a second from the monitor (server-sent events), drawn
// into the SVG by setting text and data attributes only (no markup from data, no inline script).
const STALE_AFTER_MS = 4000;
const PARTS = ['user', 'dns', 'server', 'nginx', 'app', 'db'];

const $ = (id) => document.getElementById(id);
// Whole milliseconds from 10 up: the boxes are 28 characters wide.
const ms = (value) => (value === undefined || value === null ? '–' : `${value >= 10 ? Math.round(value) : value} ms`);
const pct = (value) => (value === undefined || value === null ? '–' : `${(value * 100).toFixed(1)} %`);
const num = (value, unit = '') => (value === undefined || value === null ? '–' : `${value}${unit}`);
const bytes = (value) => {
  if (value === undefined || value === null) return '–';
  const [size, unit] = value < 1048576 ? [value / 1024, 'KiB'] : [value / 1048576, 'MiB'];
  return `${size >= 10 ? Math.round(size) : size.toFixed(1)} ${unit}`;
};
const ago = (iso) => {
  if (!iso) return '–';
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
};

// A release is named by its time at the end (latest-r20261123T080000Z): keep the end.
const shorten = (text, max) => (text.length > max ? `…${text.slice(-(max - 1))}` : text);

function setLines(part, lines) {
  document.querySelectorAll(`#part-${part} .figure`).forEach((line, i) => {
    line.textContent = lines[i] ?? '';
  });
}

function setHealth(part, health) {
  $(`part-${part}`).setAttribute('data-health', health);
}

const trafficLines = (t) => [
  `${num(t.rps)} req/s`,
  `p50 ${ms(t.p50Ms)} p99 ${ms(t.p99Ms)}`,
  `errors ${pct(t.errorRate)}`,
];

function draw(snapshot) {
  const { parts } = snapshot;
  for (const part of PARTS) setHealth(part, parts[part].health);
  setLines('user', [`${num(parts.user.traffic.rps)} req/s`, `${num(parts.user.detail.clientsConnected)} connected`]);
  // Three records fit the box: "A 203.0.113.10", "www CNAME foobar.com", "CAA issue …".
  const records = parts.dns.detail.records;
  const shortRecord = (record) => record.replace(/^www\.\S+ /, 'www ').replace(/^\S+ (?=(A|AAAA|CAA) )/, '');
  setLines('dns', [
    parts.dns.detail.domain,
    ...(records === null
      ? ['not looked up here']
      : records.length
        ? records.map(shortRecord).slice(0, 3)
        : ['no records']),
  ]);
  $('server-l1').textContent = `load ${num(parts.server.detail.load1)} on ${parts.server.detail.cpus} CPUs`;
  $('server-l2').textContent = `memory used ${pct(parts.server.detail.memoryUsedShare)}`;
  const c = parts.nginx.detail.connections;
  setLines('nginx', [
    ...trafficLines(parts.nginx.traffic),
    c ? `conns ${c.active} (r${c.reading} w${c.writing} k${c.waiting})` : 'stub_status: no answer',
    `cert: ${parts.nginx.detail.certificateDaysLeft === null ? 'unknown' : `${parts.nginx.detail.certificateDaysLeft} days`}`,
    parts.nginx.health,
  ]);
  const a = parts.app.detail;
  setLines('app', [
    ...trafficLines(parts.app.traffic),
    `${a.address} ${parts.app.health}`,
    `release ${shorten(a.release ?? '–', 20)}`,
    `pool ${num(a.poolInUse)} busy, ${num(a.poolWaiting)} wait`,
    `rss ${num(a.rssMiB, ' MiB')} loop p99 ${ms(a.eventLoopP99Ms)}`,
  ]);
  const d = parts.db.detail;
  setLines('db', [
    `${num(parts.db.traffic.rps)} stmt/s`,
    `query p50 ${ms(parts.db.traffic.p50Ms)} p99 ${ms(parts.db.traffic.p99Ms)}`,
    `errors ${pct(parts.db.traffic.errorRate)}`,
    `${d.address} ${parts.db.health}`,
    `threads ${num(d.threadsConnected)}/${num(d.threadsRunning)} run`,
    `hit ${pct(d.bufferPoolHitRatio)} data ${bytes(d.schemaBytes)}`,
  ]);
  drawWeakPoints(snapshot.weakPoints);
  drawRecent(snapshot.recent);
}

function drawWeakPoints(weak) {
  const rows = Object.entries(weak.singlePointOfFailure).map(([part, h]) => {
    const row = document.createElement('tr');
    const outage = h.lastOutage
      ? `${ago(h.lastOutage.from)}, ${h.lastOutage.seconds} s${h.lastOutage.ongoing ? ' (ongoing)' : ''}`
      : 'none seen';
    for (const text of [
      part,
      h.up === undefined ? 'unknown' : h.up ? 'up' : 'DOWN',
      ago(h.upSince),
      String(h.restarts),
      outage,
    ]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  });
  $('spof').replaceChildren(...rows);
  const change = weak.maintenance.lastAppChange;
  $('maintenance').textContent = change
    ? `Last app change (${change.kind}): ${ago(change.at)}; unreachable ${change.unreachableSeconds} s; ` +
      `${change.failedRequests} API requests answered 502–504 meanwhile.`
    : 'No app restart or deploy seen yet. scripts/deploy switches releases without failed requests; a plain restart shows here.';
  const s = weak.scalability;
  $('scalability').textContent = s.knee
    ? `API load now ${num(s.apiRps)} req/s = ${pct(s.loadShare)} of the knee the bench measured ` +
      `(${Math.round(s.knee.rps)} req/s at ${s.knee.connections} connections, ${s.knee.measuredAt.slice(0, 10)}).`
    : `API load now ${num(s.apiRps)} req/s; no bench result to compare with (npm run bench -- --publish).`;
}

function drawRecent(recent) {
  const items = recent.map((r) => {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = r.id;
    button.addEventListener('click', () => trace(r.id));
    item.append(button, ` ${r.method} ${r.uri} → ${r.status} in ${r.ms} ms`);
    return item;
  });
  $('recent').replaceChildren(...items);
}

async function trace(id) {
  $('trace-id').value = id;
  for (const el of document.querySelectorAll('.traced')) el.classList.remove('traced');
  const response = await fetch(`/status/requests/${encodeURIComponent(id)}`);
  if (!response.ok) {
    $('trace-result').textContent = `Request ${id} is not among the recent ones (HTTP ${response.status}).`;
    return;
  }
  const { nginx, app } = await response.json();
  const hops = [];
  const lit = ['part-user', 'hop-user-dns', 'hop-dns-nginx'];
  if (nginx) {
    hops.push(`nginx ${nginx.method} ${nginx.uri} → ${nginx.status} in ${nginx.requestMs.toFixed(2)} ms`);
    lit.push('part-nginx');
    if (nginx.upstreamConnectMs !== undefined) {
      hops.push(
        `connect to the app ${nginx.upstreamConnectMs.toFixed(2)} ms, its headers after ${nginx.upstreamHeaderMs.toFixed(2)} ms`,
      );
      lit.push('hop-nginx-app');
    }
  } else {
    // nginx writes its lines in batches: about 2 s after the request at most.
    hops.push("nginx's line is not in yet: try again in a second or two");
  }
  if (app) {
    hops.push(`app ${app.route} → ${app.status} in ${app.appMs} ms`);
    lit.push('part-app');
    if (app.queries > 0) {
      hops.push(`MySQL ${app.dbMs} ms over ${app.queries} quer${app.queries === 1 ? 'y' : 'ies'}`);
      lit.push('hop-app-db', 'part-db');
    }
  }
  for (const id of lit) $(id).classList.add('traced');
  $('trace-result').textContent = hops.join(' · ');
}

$('trace-form').addEventListener('submit', (event) => {
  event.preventDefault();
  trace($('trace-id').value.trim());
});

let lastEvent = 0;
function markStale() {
  const stale = Date.now() - lastEvent > STALE_AFTER_MS;
  const freshness = $('freshness');
  freshness.setAttribute('data-stale', String(stale));
  if (stale) {
    // No figures: nothing is known, except that nginx served this page.
    freshness.textContent = 'The monitor is not answering: figures are stale.';
    for (const part of PARTS) setHealth(part, 'unknown');
  }
}

const events = new EventSource('/status/events');
events.addEventListener('message', (event) => {
  lastEvent = Date.now();
  const snapshot = JSON.parse(event.data);
  draw(snapshot);
  const freshness = $('freshness');
  freshness.setAttribute('data-stale', 'false');
  freshness.textContent = `Updated ${new Date(snapshot.at).toLocaleTimeString()}.`;
});
setInterval(markStale, 1000);
