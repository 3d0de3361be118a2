// node-redis 5 (from npm) against cachet-redis, as an application of
// another ecosystem uses it: RESP3, which the client negotiates with
// HELLO 3 on connecting, then strings, counters, expiry, a transaction,
// a pipeline, hashes (HGETALL's map) and CONFIG GET's map.
//
// usage: node client_test.mjs PORT
import assert from 'node:assert/strict';
import { createClient } from 'redis';

const port = Number(process.argv[2]);
const client = createClient({
  url: `redis://127.0.0.1:${port}`,
  RESP: 3,
  socket: { connectTimeout: 5000, reconnectStrategy: false },
});
client.on('error', (e) => {
  console.error('client error:', e);
  process.exitCode = 1;
});
await client.connect();

assert.equal(await client.set('greeting', 'hello'), 'OK');
assert.equal(await client.get('greeting'), 'hello');
assert.equal(await client.get('no such key'), null);
assert.deepEqual(await client.mGet(['greeting', 'nokey']), ['hello', null]);
assert.equal(await client.incr('n'), 1);
assert.equal(await client.incrBy('n', 41), 42);
assert.equal(await client.append('greeting', ', world'), 12);
assert.equal(await client.set('t', 'v', { EX: 100 }), 'OK');
const ttl = await client.ttl('t');
assert.ok(ttl > 90 && ttl <= 100, `TTL ${ttl}`);
assert.equal(await client.exists(['greeting', 't', 'nokey']), 2);
assert.equal(await client.del(['t']), 1);

// MULTI/EXEC through the client's own transaction.
const replies = await client.multi().set('a', '1').incr('a').get('a').exec();
assert.deepEqual(replies, ['OK', 2, '2']);

// A pipeline: many commands, one write.
const piped = await Promise.all(
  Array.from({ length: 100 }, (_, i) => client.set(`p${i}`, String(i))));
assert.equal(piped.length, 100);
assert.equal(await client.get('p99'), '99');

// Hashes: an object in, the same object out of HGETALL's RESP3 map.
assert.equal(await client.hSet('user:1', { name: 'ada', visits: '1' }), 2);
assert.equal(await client.hIncrBy('user:1', 'visits', 2), 3);
assert.deepEqual({ ...(await client.hGetAll('user:1')) },
                 { name: 'ada', visits: '3' });
assert.deepEqual(await client.hmGet('user:1', ['name', 'nope']), ['ada', null]);
assert.equal(await client.hDel('user:1', ['name', 'visits']), 2);
assert.equal(await client.exists('user:1'), 0);
await assert.rejects(client.hGet('greeting', 'f'), /WRONGTYPE/);

// RESP3 maps: CONFIG GET, HELLO's own.
const cfg = await client.configGet('maxmemory-policy');
assert.deepEqual({ ...cfg }, { 'maxmemory-policy': 'allkeys-s3fifo' });
const hello = await client.hello();
assert.equal(hello.proto, 3);
assert.equal(hello.server, 'redis');

// The client did negotiate RESP3: HELLO was called on this connection.
const stats = await client.info('commandstats');
assert.match(stats, /cmdstat_hello:calls=[1-9]/);

await client.quit();
console.log(`node-redis ${process.env.NODE_REDIS_VERSION ?? ''} on port ${port}: ok`);
