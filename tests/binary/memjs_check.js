// Drive a memcached-compatible server with memjs, a Node.js client that
// speaks only the binary protocol.
//
// Usage: node memjs_check.js HOST:PORT
//
// Every check prints one line ("ok   name" or "FAIL name: ..."); the script
// exits with status 1 if any check failed. Run from
// tests/binary_clients_test.go (TestBinaryMemjs), against the real memcached
// and against streamlua: the expectations are memcached's behaviour.
'use strict';

const memjs = require('memjs');
const utils = require('memjs/lib/memjs/utils');

const addr = process.argv[2];
const quietLogger = { log: function () {} };
const client = memjs.Client.create(addr, { timeout: 5, retries: 0, logger: quietLogger });

let failures = 0;

function check(name, got, want) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g === w) {
    console.log('ok   ' + name);
  } else {
    failures++;
    console.log('FAIL ' + name + ': got ' + g + ', want ' + w);
  }
}

function str(buf) {
  return buf === null || buf === undefined ? null : buf.toString('latin1');
}

async function value(key) {
  const r = await client.get(key);
  return str(r.value);
}

async function rejects(promise) {
  try {
    await promise;
    return 'no error';
  } catch (e) {
    return e.message;
  }
}

// raw sends one request built with memjs's own request encoder and
// returns the response memjs parsed (for VERSION, which memjs has no
// method for).
function raw(opcode, key, extras, val) {
  return new Promise(function (resolve, reject) {
    client.incrSeq();
    const request = utils.makeRequestBuffer(opcode, key, extras, val, client.seq);
    client.perform(key, request, client.seq, function (err, response) {
      if (err) {
        reject(err);
      } else {
        resolve(response);
      }
    });
  });
}

function statsOf(key) {
  return new Promise(function (resolve, reject) {
    client.statsWithKey(key, function (err, server, stats) {
      if (err) {
        reject(err);
      } else {
        resolve(stats);
      }
    });
  });
}

async function main() {
  await client.flush();

  check('get missing', await value('nope'), null);
  check('set', await client.set('a', 'one', {}), true);
  check('get', await value('a'), 'one');
  const binary = Buffer.from([0, 1, 2, 13, 10, 0x80, 0xff, 13, 10]);
  check('set binary value', await client.set('bin', binary, {}), true);
  check('get binary value', (await client.get('bin')).value.equals(binary), true);
  check('flags on get', Array.from((await client.get('a')).flags), [0, 0, 0, 0]);
  check('set empty value', await client.set('empty', '', {}), true);
  check('get empty value', await value('empty'), '');

  check('add existing', await client.add('a', 'x', {}), false);
  check('add new', await client.add('b', 'two', {}), true);
  check('get added', await value('b'), 'two');
  check('replace existing', await client.replace('b', 'deux', {}), true);
  check('get replaced', await value('b'), 'deux');
  check('replace missing', await client.replace('zz', 'x', {}), false);
  check('get after failed replace', await value('zz'), null);

  check('append', await client.append('a', '+1'), true);
  // memjs 1.3.2 sends APPEND's opcode for prepend too, so "0+" lands at
  // the end (memcached does the same with the same bytes).
  check('prepend (sent as append by memjs)', await client.prepend('a', '0+'), true);
  check('get appended', await value('a'), 'one+10+');
  check('append missing', await rejects(client.append('zz', 'x')), 'MemJS APPEND: Item not stored');

  check('delete', await client.delete('b'), true);
  check('get deleted', await value('b'), null);
  check('delete missing', await client.delete('b'), false);

  check('incr creates with initial', await client.increment('n', 5, { initial: 10 }), { success: true, value: 10 });
  check('incr', await client.increment('n', 5, {}), { success: true, value: 15 });
  check('decr', await client.decrement('n', 3, {}), { success: true, value: 12 });
  check('decr floors at zero', await client.decrement('n', 100, {}), { success: true, value: 0 });
  check('counter as text', (await value('n')).trim(), '0');
  check('incr non-numeric', await rejects(client.increment('a', 1, {})),
    'MemJS INCREMENT: Incr/Decr on non-numeric value');
  check('decr creates with initial', await client.decrement('m', 1, { initial: 7 }), { success: true, value: 7 });

  check('touch', await client.touch('a', 100), true);
  check('touch missing', await client.touch('zz', 100), false);
  check('get after touch', await value('a'), 'one+10+');

  check('set with expiry in the past', await client.set('old', 'x', { expires: 1000000000 }), true);
  check('expired item is gone', await value('old'), null);

  const big = Buffer.alloc(2 * 1024 * 1024, 120);
  check('set too large', await rejects(client.set('big', big, {})), 'MemJS SET: Value too large');
  check('connection usable after too large', await value('a'), 'one+10+');

  const version = await raw(0x0b, '', '', '');
  check('version status', version.header.status, 0);
  check('version is 1.6.x', /^1\.6\./.test(version.val.toString()), true);

  const stats = await statsOf('');
  check('stats has pid', /^[0-9]+$/.test(stats.pid || ''), true);
  check('stats has curr_items', /^[0-9]+$/.test(stats.curr_items || ''), true);
  check('stats counts sets', Number(stats.cmd_set) >= 5, true);
  const settings = await statsOf('settings');
  check('stats settings has item_size_max', /^[0-9]+$/.test(settings.item_size_max || ''), true);
  check('stats bogus group', await rejects(statsOf('bogus')), 'MemJS STATS (bogus): Key not found');

  check('flush', Object.values(await client.flush()), [true]);
  check('get after flush', await value('a'), null);

  client.quit();
}

main().then(function () {
  console.log(failures === 0 ? 'all checks passed' : failures + ' checks failed');
  process.exit(failures === 0 ? 0 : 1);
}, function (err) {
  console.log('FAIL unexpected error: ' + (err && err.stack || err));
  process.exit(1);
});
