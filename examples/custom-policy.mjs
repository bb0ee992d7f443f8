// A custom event loop policy: the seeds' MyEventLoopPolicy, subclassing DefaultEventLoopPolicy
// and overriding only what it needs.
//
//   class MyEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
//       def get_event_loop(self):
//           loop = super().get_event_loop()
//           # Do something with loop ...
//           return loop
//
//   asyncio.set_event_loop_policy(MyEventLoopPolicy())
import {
  DefaultEventLoopPolicy, ThreadedChildWatcher, createSubprocessExec, getChildWatcher, getEventLoop,
  getEventLoopPolicy, run, setEventLoopPolicy,
} from 'childwatch';

class MyEventLoopPolicy extends DefaultEventLoopPolicy {
  constructor() {
    super();
    this.calls = 0;
    // A policy may also pick its child watcher (the default is Pidfd, else Threaded).
    this.setChildWatcher(new ThreadedChildWatcher());
  }

  getEventLoop() {
    const loop = super.getEventLoop();
    // Do something with loop ...
    this.calls += 1;
    if (loop.getExceptionHandler() === null) {
      loop.setExceptionHandler((l, context) => console.log('handled:', context.message));
    }
    return loop;
  }
}

setEventLoopPolicy(new MyEventLoopPolicy());
console.log('policy:', getEventLoopPolicy().constructor.name);
console.log('watcher:', getChildWatcher().constructor.name);

// getEventLoop() asks the policy when no loop is running.
const loop = getEventLoop();
console.log('loop:', loop.constructor.name, '| same loop next time:', getEventLoop() === loop);

// Top-level subprocesses run on the policy's current loop (found through getEventLoop()).
const proc = await createSubprocessExec('echo', ['from the custom policy']);
console.log((await proc.communicate())[0].toString().trim());

// The exception handler the policy installed catches what a callback of that loop throws.
loop.callSoon(function failing() { throw new Error('boom'); });
await loop.runUntilComplete(async () => {});

// Inside run() (a new loop) getEventLoop() returns the running loop without asking the policy.
const before = getEventLoopPolicy().calls;
await run(async () => getEventLoop());
console.log('policy asked inside run():', getEventLoopPolicy().calls !== before);
