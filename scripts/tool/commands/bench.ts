// scripts/bench (npm run bench): measures the stack.
import { defineCommand } from './define.js';

export const bench = defineCommand({
  name: 'bench',
  summary: 'measure the stack: per-route throughput and latency, and a connection sweep',
  options: {
    project: {
      type: 'string',
      value: 'NAME',
      default: 'webstack-bench',
      help: 'compose project to measure; brought up from docker-compose.yml when not running, and taken down after. A running stack gets the seed posts and the POSTed ones: never one with real data',
    },
    keep: { type: 'boolean', default: false, help: 'leave a stack this run brought up running' },
    'no-build': { type: 'boolean', default: false, help: 'do not build the images when bringing the stack up' },
    seconds: { type: 'string', value: 'N', default: '5', help: 'measured seconds per step' },
    warmup: { type: 'string', value: 'N', default: '2', help: 'seconds of warm-up before each step' },
    rounds: {
      type: 'string',
      value: 'N',
      default: '3',
      help: 'times the per-route table is measured, interleaved; median shown',
    },
    connections: { type: 'string', value: 'N', default: '32', help: 'connections for the per-route table' },
    sweep: {
      type: 'string',
      value: 'LIST',
      default: '1,2,4,8,16,32,64,128,256',
      help: 'connection counts of the sweep',
    },
    posts: {
      type: 'string',
      value: 'N',
      default: '100000',
      help: 'posts in the table before the run (topped up once)',
    },
    'generator-cpus': {
      type: 'string',
      value: 'SET',
      help: 'CPUs wrk is pinned to, "none" to let it float (default: the last CPU)',
    },
    out: { type: 'string', value: 'DIR', help: 'results folder (default test/results/bench)' },
    publish: {
      type: 'boolean',
      default: false,
      help: 'also write scripts/tool/bench/results/latest.{md,svg} and the tables in docs/performance.md',
    },
  },
  async run(values, _positionals, args) {
    const { bench } = await import('../bench/main.js');
    await bench(values, args);
  },
});
