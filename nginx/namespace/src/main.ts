// Process entry of the server service, the owner of the network namespace that nginx, the
// app, the database and the stack's helpers join (network_mode: service:server).
//
// When this container crashes, the engine restarts it with a new namespace, and the
// containers that joined the old one keep running in it, cut off: no published port reaches
// them, and they never move on their own (nor would a restart policy bring them back if
// they died, since the engine cannot join a namespace whose owner is restarting). So on each
// start this program restarts every running container that joined this container before it
// started; each rejoins the new namespace with its own stop and start, as `docker restart`
// does. Then it exits and the container just holds the namespace.
import { hostname } from 'node:os';
import { pino } from 'pino';
import { Engine, type ContainerDetails, type ContainerSummary } from './engine.js';

// The engine's socket, mounted in by docker-compose.yml.
const SOCKET = '/var/run/docker.sock';
const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'server' } });
const engine = new Engine(SOCKET);

/** The containers in this container's previous namespace: joined to it, and started before it. */
async function stranded(self: ContainerDetails): Promise<ContainerDetails[]> {
  const running = await engine.get<ContainerSummary[]>('/containers/json');
  const joined = running.filter((c) => c.HostConfig.NetworkMode === `container:${self.Id}`);
  const details = await Promise.all(joined.map((c) => engine.get<ContainerDetails>(`/containers/${c.Id}/json`)));
  const since = Date.parse(self.State.StartedAt);
  return details.filter((c) => c.State.Running && Date.parse(c.State.StartedAt) < since);
}

try {
  // The engine names a container's host after the start of its id unless told otherwise.
  const self = await engine.get<ContainerDetails>(`/containers/${hostname()}/json`);
  const members = await stranded(self);
  await Promise.all(
    members.map(async (member) => {
      const started = performance.now();
      await engine.post(`/containers/${member.Id}/restart`);
      log.info({ container: member.Name.replace(/^\//, ''), ms: Math.round(performance.now() - started) }, 'rejoined');
    }),
  );
  if (members.length === 0) log.debug('no container of an earlier namespace');
} catch (error) {
  // Holding the namespace matters more than this: the container stays up either way.
  log.error(
    { err: error },
    `could not bring the containers of an earlier namespace into this one (Docker Engine API at ${SOCKET}); restart them by hand if this container was restarted`,
  );
}
