// While the recorder's queue is full the hub stops reading what would become
// records (data ports, and command connections that sent /data), and goes on
// answering commands: a peripheral restarted meanwhile registers at once.
import t from 'tap';
import net from 'node:net';
import { EggHub } from '../src/sources/hub/egg-hub.js';
import { hubSchema } from '../src/sources/hub/hub-config.js';
import { freePorts, hubCommands, waitFor } from './hub-helpers.js';
import { sleep, tempDir } from './helpers.js';

t.test('a full queue holds the senders back, not the commands; nothing sent is lost', async (t) => {
  const [cmd, data] = await freePorts(2);
  const cfg = hubSchema.parse({ kind: 'hub', command_port: cmd, data_ports: String(data) });
  const hub = new EggHub(cfg, tempDir(t), () => {});
  await hub.open();
  const stop = new AbortController();
  let room = true;
  const recorded: string[] = [];
  const running = hub.run(stop.signal, () => room, (body) => void recorded.push(JSON.parse(body.toString()).payload));
  t.teardown(async () => {
    stop.abort();
    await running;
  });
  t.match(await hubCommands(cmd, ['/register SRC uuid-s 1']), /\/ack \d+/);

  const sender = net.connect(data, '127.0.0.1');
  t.teardown(() => void sender.destroy());
  await new Promise((r) => sender.once('connect', r));
  sender.write('uuid-s\n');
  room = false; // the recorder's queue is full from the next line on
  sender.write('first\n');
  await waitFor('the first line', () => recorded.length === 1);
  await sleep(200); // the hub has paused its senders
  sender.write('held-1\nheld-2\n');
  await sleep(300);
  t.same(recorded, ['first'], 'nothing more is read from the data port while there is no room');

  // A peripheral registers, and the list is answered, while the queue is full.
  const answers = await hubCommands(cmd, ['/register LATE uuid-late 2', '/list']);
  t.match(answers, /\/ack \d+/, 'a registration is answered while the queue is full');
  t.match(answers, /LATE/, '/list is answered too');
  t.same(recorded, ['first'], 'commands did not let the held lines through');

  room = true;
  await waitFor('the held lines', () => recorded.length === 3);
  t.same(recorded, ['first', 'held-1', 'held-2'], 'once there is room, the held lines are recorded, in order');

  // A command connection that sends /data (any whitespace after it, as the command reads it) is held back too.
  const viaCommands = net.connect(cmd, '127.0.0.1');
  t.teardown(() => void viaCommands.destroy());
  await new Promise((r) => viaCommands.once('connect', r));
  room = false;
  viaCommands.write('/data\tuuid-s by-command-1\n');
  await waitFor('the first /data line', () => recorded.length === 4);
  await sleep(200);
  viaCommands.write('/data uuid-s by-command-2\n');
  await sleep(300);
  t.equal(recorded.at(-1), 'by-command-1', 'a second /data on that connection waits while there is no room');
  room = true;
  await waitFor('the held /data line', () => recorded.length === 5);
  t.equal(recorded.at(-1), 'by-command-2', 'and is recorded once there is room');
});
