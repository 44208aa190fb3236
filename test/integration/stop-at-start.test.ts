/**
 * A run that ends before its consumer has joined the group must leave the group with it. Both ways that
 * happen: Ctrl-C (or SIGTERM) right after `tokrs run` starts, while the consumer is still connecting and
 * joining; and a pipeline that fails as it starts (here, a user dictionary that does not exist). Before, the
 * consumer went on to join after the run had stopped and held its partitions for as long as the process
 * lived, processing nothing and committing nothing, so the group's other members never got them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureTopics, withAdmin } from '../../src/kafka/admin.js';
import { isTokrsError } from '../../src/errors.js';
import { startTopology } from '../../src/topology/runner.js';
import type { Topology } from '../../src/topology/spec.js';
import { testKafka } from '../support/kafka.js';
import { freshTopology } from '../support/topology.js';

const kafka = testKafka('stop-at-start');

/** The group's members over the next `ms`: the largest count seen, and the count at the end. */
async function membersOver(group: string, ms: number): Promise<{ most: number; last: number }> {
  return withAdmin(kafka, async (admin) => {
    let most = 0;
    let last = 0;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const described = await admin.describeGroups([group]);
      last = described.groups[0]?.members.length ?? 0;
      most = Math.max(most, last);
      await new Promise((r) => setTimeout(r, 250));
    }
    return { most, last };
  });
}

async function withTopic(change: (t: Topology) => Topology): Promise<Topology> {
  const t = freshTopology('waimai-sentiment.yaml', (base) => change({ ...base, outputs: { ...base.outputs, snapshots: null } }));
  await withAdmin(kafka, (admin) => ensureTopics(admin, [{ topic: t.source.topics[0]!, partitions: 3 }]));
  return t;
}

test('a run stopped while its consumer is still joining leaves no member in the group', async () => {
  const t = await withTopic((base) => base);
  const run = await startTopology(t, { kafka });
  const summary = await run.stop();
  assert.equal(summary.seen, 0);
  // The join (connect, JoinGroup, SyncGroup) takes a few seconds here; a consumer that joined after the
  // stop would show up as a member within them and stay.
  const { most, last } = await membersOver(t.source.group!, 8_000);
  assert.equal(last, 0, `the group still has ${last} member(s) after the run stopped (at most ${most})`);
  assert.equal(most, 0, `a member joined after the run stopped (${most} at most)`);
});

test('a pipeline that fails as it starts ends the run with its error, and its consumer never joins', async () => {
  const t = await withTopic((base) => ({ ...base, tokenize: { ...base.tokenize, jieba: { ...base.tokenize.jieba, userDict: '/nonexistent/user.dict' } } }));
  const run = await startTopology(t, { kafka });
  await assert.rejects(run.finished, (error: unknown) => isTokrsError(error) && /user\.dict/.test(error.message));
  const { most } = await membersOver(t.source.group!, 8_000);
  assert.equal(most, 0, `the failed run's consumer joined the group (${most} member(s))`);
  // stop() after the failure reports the same failure; it must not be an unhandled rejection.
  await assert.rejects(run.stop());
});
