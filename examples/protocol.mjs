// loop.subprocessExec with a SubprocessProtocol: asyncio's low-level, callback-style API.
// Order guaranteed: connectionMade, then per pipe all data before pipeConnectionLost(fd),
// processExited once, connectionLost last.
import { SubprocessProtocol, getRunningLoop, run } from 'childwatch';

class Collect extends SubprocessProtocol {
  constructor(exited) {
    super();
    this.exited = exited; // a Future, resolved in connectionLost
    this.events = [];
    this.output = '';
  }
  connectionMade(transport) { this.transport = transport; this.events.push('connectionMade'); }
  pipeDataReceived(fd, data) { if (fd === 1) this.output += data.toString(); }
  pipeConnectionLost(fd) { this.events.push(`pipeConnectionLost(${fd})`); }
  processExited() { this.events.push(`processExited(${this.transport.getReturncode()})`); }
  connectionLost(exc) { this.events.push('connectionLost'); this.exited.setResult(exc); }
}

await run(async () => {
  const loop = getRunningLoop();
  const exited = loop.createFuture();
  const [transport, protocol] = await loop.subprocessExec(() => new Collect(exited),
    'printf', ['line 1\\nline 2\\n']);
  transport.getPipeTransport(0).writeEof(); // nothing to send: close its stdin
  await exited;
  console.log('output:', JSON.stringify(protocol.output));
  console.log('returncode:', transport.getReturncode());
  const events = protocol.events;
  console.log('first:', events[0], '| last:', events.at(-1));
  console.log('pipes closed:', events.filter((e) => e.startsWith('pipe')).sort().join(' '));
  console.log('exit reported once:', events.filter((e) => e.startsWith('processExited')).length === 1);
  transport.close();
});
