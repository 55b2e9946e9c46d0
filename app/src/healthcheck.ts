// Container health check: exits 0 when this app instance is ready to serve, or with
// argument "live" when its process answers at all (a Swarm health check: an instance that
// is live but cannot reach the database must keep answering 503, not be restarted).
const port = process.env.PORT ?? '5000';
const host = process.env.HOST === '0.0.0.0' ? '127.0.0.1' : (process.env.HOST ?? '127.0.0.1');
const probe = process.argv[2] === 'live' ? 'live' : 'ready';

try {
  const response = await fetch(`http://${host}:${port}/${probe}`, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
