// The alerts test's own receivers, on the test stack's network: a webhook (HTTP POST on 8080)
// and an SMTP sink (smtp-server, on 2525). Each message received is one JSON line on stdout,
// which the test reads from the container's log. The first webhook POST is refused (503), so
// the monitor's retry is exercised on every run.
import { createServer } from 'node:http';
import { SMTPServer } from 'smtp-server';

const record = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
let refusedOne = false;

createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    if (!refusedOne) {
      refusedOne = true;
      record({ kind: 'refused' });
      response.writeHead(503).end();
      return;
    }
    record({ kind: 'webhook', path: request.url, type: request.headers['content-type'], body: JSON.parse(body) });
    response.writeHead(204).end();
  });
}).listen(8080);

new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onData(stream, session, done) {
    let raw = '';
    stream.on('data', (chunk) => (raw += chunk));
    stream.on('end', () => {
      // Long headers arrive folded over lines.
      const headers = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n(?=[ \t])/g, '');
      record({
        kind: 'email',
        from: session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address),
        subject: /^Subject: (.*)$/m.exec(headers)?.[1],
      });
      done();
    });
  },
}).listen(2525);
