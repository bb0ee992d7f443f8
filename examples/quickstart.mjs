import { createSubprocessExec, createSubprocessShell } from 'childwatch';

// Run a program (no shell), write its stdin, read its output to the end, wait for the exit.
const proc = await createSubprocessExec('tr', ['a-z', 'A-Z']);
const [stdout] = await proc.communicate('hello, childwatch\n');
console.log(stdout.toString().trim(), proc.returncode); // HELLO, CHILDWATCH 0
// A shell command; wait() resolves with Python's returncode: -N when signal N ended it.
const sleeper = await createSubprocessShell('exec sleep 10');
sleeper.terminate();
console.log(await sleeper.wait(), sleeper.exitInfo.signal); // -15 15
