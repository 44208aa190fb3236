import assert from 'node:assert/strict';
import { test } from 'node:test';
import { integerFlag, portFlag, positiveFlag } from '../../src/cli/flags.js';
import { isTokrsError } from '../../src/errors.js';
import { parseBrokers } from '../../src/kafka/client.js';

function refused(parse: (value: string) => number, value: string): string {
  try {
    parse(value);
  } catch (error) {
    assert.ok(isTokrsError(error, 'TOKRS_ERR_CONFIG'), String(error));
    return error.message;
  }
  assert.fail(`${JSON.stringify(value)} was accepted`);
}

test('numeric flags refuse what is not a number in range, naming the flag and the value', () => {
  // Number('abc') is NaN: `--idle-exit abc` ran forever and `--limit abc` fed the whole file.
  assert.equal(refused(integerFlag('--idle-exit', 1), 'abc'), '--idle-exit must be an integer >= 1, got "abc"');
  for (const bad of ['', ' ', '0', '-5', '1.5', '1e400', '0x', '9007199254740993']) refused(integerFlag('--limit', 1), bad);
  assert.equal(integerFlag('--limit', 1)('250'), 250);
  assert.equal(refused(portFlag('--metrics-port', false), '99999'), '--metrics-port must be an integer from 1 to 65535, got "99999"');
  assert.match(refused(portFlag('--metrics-port', false), '0'), /from 1 to 65535/);
  assert.equal(portFlag('--port', true)('0'), 0);
  assert.equal(refused(portFlag('--ui-port', true), 'abc'), '--ui-port must be an integer from 0 to 65535, got "abc"');
  for (const bad of ['abc', '0', '-1', 'Infinity', '']) refused(positiveFlag('--rate'), bad);
  assert.equal(positiveFlag('--rate')('2.5'), 2.5);
});

test('broker lists (--brokers, KAFKA_BROKERS) refuse an address KafkaJS cannot connect to', () => {
  assert.deepEqual(parseBrokers(' a:9092, 10.0.0.1:9093 ,'), ['a:9092', '10.0.0.1:9093']);
  for (const bad of ['localhost', 'a:0', 'a:65536', '[::1]:9092', 'a b:9092', 'a:9092x']) {
    assert.throws(() => parseBrokers(bad), (error: unknown) => isTokrsError(error, 'TOKRS_ERR_CONFIG') && error.message.includes(JSON.stringify(bad)), bad);
  }
});
