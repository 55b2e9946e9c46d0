import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NginxRequest } from './nginx-log.js';
import type { DbStatus, StubStatus } from './sources.js';

/** The monitor's own metrics: nginx and the database, as Prometheus reads them. */
export function monitorRegistry() {
  const register = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [register] });

  const up = gauge('webstack_up', 'Whether the monitor reached the part at its last check (1) or not (0)', ['part']);
  const nginx = {
    active: gauge('nginx_connections_active', 'Client connections open now, idle keep-alive ones included'),
    state: gauge(
      'nginx_connections',
      'Client connections by state: reading a request, writing a response, waiting idle',
      ['state'],
    ),
    accepted: gauge('nginx_connections_accepted', 'Client connections accepted since nginx started (a counter)'),
    handled: gauge('nginx_connections_handled', 'Client connections handled since nginx started (a counter)'),
    requests: gauge('nginx_http_requests', 'Client requests since nginx started, from stub_status (a counter)'),
  };
  const responses = new Counter({
    name: 'nginx_http_responses_total',
    help: 'Responses nginx sent since the monitor started, by status code (from its status log)',
    labelNames: ['status'],
    registers: [register],
  });
  const duration = new Histogram({
    name: 'nginx_request_duration_seconds',
    help: "nginx's $request_time: first byte read from the client to the last byte sent, by area",
    labelNames: ['area'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [register],
  });
  const db = {
    threadsConnected: gauge('mysql_threads_connected', 'Open client connections to the database server'),
    threadsRunning: gauge('mysql_threads_running', 'Connections executing a statement now'),
    maxUsed: gauge('mysql_max_used_connections', 'Most connections open at once since the server started'),
    questions: gauge('mysql_questions', 'Statements clients sent since the server started (a counter)'),
    slow: gauge('mysql_slow_queries', 'Statements slower than long_query_time since the server started (a counter)'),
    hit: gauge('mysql_innodb_buffer_pool_hit_ratio', 'Share of InnoDB page reads served from memory since start'),
    readRequests: gauge('mysql_innodb_buffer_pool_read_requests', 'Logical page reads since start (a counter)'),
    reads: gauge('mysql_innodb_buffer_pool_reads', 'Page reads that went to disk since start (a counter)'),
    lockWaits: gauge('mysql_innodb_row_lock_waits', 'Times a statement waited for a row lock since start (a counter)'),
    lockTime: gauge('mysql_innodb_row_lock_time_seconds', 'Total time spent waiting for row locks since start'),
    uptime: gauge('mysql_uptime_seconds', 'Seconds since the database server started'),
    size: gauge('mysql_schema_size_bytes', "Data and index size of the app's schema"),
  };

  return {
    register,
    up(part: string, isUp: boolean) {
      up.set({ part }, isUp ? 1 : 0);
    },
    nginxRequest(request: NginxRequest) {
      responses.inc({ status: String(request.status) });
      duration.observe({ area: request.uri.startsWith('/api/') ? 'api' : 'site' }, request.requestMs / 1000);
    },
    stubStatus(s: StubStatus) {
      nginx.active.set(s.active);
      nginx.state.set({ state: 'reading' }, s.reading);
      nginx.state.set({ state: 'writing' }, s.writing);
      nginx.state.set({ state: 'waiting' }, s.waiting);
      nginx.accepted.set(s.accepted);
      nginx.handled.set(s.handled);
      nginx.requests.set(s.requests);
    },
    dbStatus(s: DbStatus) {
      db.threadsConnected.set(s.Threads_connected);
      db.threadsRunning.set(s.Threads_running);
      db.maxUsed.set(s.Max_used_connections);
      db.questions.set(s.Questions);
      db.slow.set(s.Slow_queries);
      db.hit.set(hitRatio(s));
      db.readRequests.set(s.Innodb_buffer_pool_read_requests);
      db.reads.set(s.Innodb_buffer_pool_reads);
      db.lockWaits.set(s.Innodb_row_lock_waits);
      db.lockTime.set(s.Innodb_row_lock_time / 1000);
      db.uptime.set(s.Uptime);
      db.size.set(s.dataBytes);
    },
  };
}

/**
 * The two counters are kept apart and need not agree: MariaDB counts the pages it reads while
 * starting as disk reads with no read request (a fresh 11.8 showed 169 reads for 19 requests),
 * so a young server would show a negative share. The ratio is clamped to what a share can be;
 * both counters are exported as they are for anyone who wants a rate.
 */
export const hitRatio = (s: DbStatus) =>
  s.Innodb_buffer_pool_read_requests > 0
    ? Math.min(1, Math.max(0, 1 - s.Innodb_buffer_pool_reads / s.Innodb_buffer_pool_read_requests))
    : 1;
