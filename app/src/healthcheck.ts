// Container health check: exits 0 when this app instance is ready to serve.
const port = process.env.PORT ?? '5000';
const host = process.env.HOST ?? '127.0.0.1';

try {
  const response = await fetch(`http://${host}:${port}/api/health/ready`, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
