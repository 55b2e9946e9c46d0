// Every command of the operating tool, in the order the overview lists them.
import { bench } from './bench.js';
import { cluster } from './cluster.js';
import type { Entry } from './define.js';
import { dns } from './dns.js';
import { backup, cert, deploy, drill, reliabilityReport, restore, rollback } from './local.js';
import { vps } from './vps.js';

export const COMMANDS: readonly Entry[] = [
  deploy,
  rollback,
  backup,
  restore,
  drill,
  bench,
  dns,
  cert,
  vps,
  cluster,
  reliabilityReport,
];
