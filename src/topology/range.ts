/**
 * The range a replay reads: `--from` and `--to` parsed once, then resolved against the topic (or file)
 * into fixed start and end offsets per partition. End offsets are exclusive, as Kafka's high watermark is,
 * and are fixed at start: messages produced during the replay are not part of it.
 *
 *   earliest | latest
 *   2024-06-01T08:00:00Z          first offset at or after that time, in each partition
 *   0:1200,1:1180 | topic:0:1200   explicit offsets; partitions not named start at earliest / end at latest
 */
import type { Admin } from 'kafkajs';
import { configError } from '../errors.js';
import { offsetsAtTime, topicRange } from '../kafka/admin.js';

export type RangeBound =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly time: number; readonly text: string }
  | { readonly kind: 'offsets'; readonly offsets: readonly BoundOffset[] };

export interface BoundOffset {
  /** Absent: the partition of every source topic. */
  readonly topic?: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** One partition's part of the range: offsets [start, end). */
export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  readonly start: string;
  readonly end: string;
}

const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const OFFSET_ITEM = /^(?:([A-Za-z0-9._-]{1,249}):)?(\d{1,9}):(\d{1,19})$/;

/**
 * Parses a `--from` / `--to` value. Throws TOKRS_ERR_CONFIG naming the flag, the value and the accepted forms.
 *
 * ```ts
 * parseRangeBound('0:100,1:50', '--from') // { kind: 'offsets', offsets: [{ partition: 0, offset: 100n }, …] }
 * parseRangeBound('yesterday', '--from')  // throws: --from "yesterday" is not earliest, latest, …
 * ```
 */
export function parseRangeBound(text: string, flag: '--from' | '--to'): RangeBound {
  const value = text.trim();
  const fail = (why: string) =>
    configError(
      `${flag} ${JSON.stringify(text)} ${why}; expected earliest, latest, an ISO 8601 time with a zone ` +
        `(2024-06-01T08:00:00Z), or partition:offset pairs (0:1200,1:1180 or topic:0:1200)`,
    );
  if (value === 'earliest') return { kind: 'earliest' };
  if (value === 'latest') return { kind: 'latest' };
  if (value === '') throw fail('is empty');
  if (/^\d{4}-/.test(value)) {
    const m = ISO.exec(value);
    if (m === null) throw fail('is not a valid ISO 8601 time');
    // A date-time without a zone would be read in the machine's zone: the range would depend on where it runs.
    if (value.length > 10 && m[1] === undefined) throw fail('has no time zone (add Z or an offset such as +08:00)');
    const time = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value.replace(' ', 'T'));
    if (!Number.isFinite(time)) throw fail('is not a valid date');
    return { kind: 'time', time, text: new Date(time).toISOString() };
  }
  if (value.includes(':')) {
    const offsets: BoundOffset[] = [];
    const seen = new Set<string>();
    for (const item of value.split(',')) {
      const m = OFFSET_ITEM.exec(item.trim());
      if (m === null) throw fail(`has a bad item ${JSON.stringify(item)} (want partition:offset)`);
      const key = `${m[1] ?? ''}:${m[2]}`;
      if (seen.has(key)) throw fail(`names partition ${m[1] === undefined ? '' : `${m[1]}:`}${m[2]} twice`);
      seen.add(key);
      offsets.push({ ...(m[1] === undefined ? {} : { topic: m[1] }), partition: Number(m[2]), offset: BigInt(m[3]!) });
    }
    return { kind: 'offsets', offsets };
  }
  throw fail('is not a known form');
}

/**
 * Bounds that contradict each other on their face (`--to` before `--from` in time, or at a lower offset of
 * the same partition) are a mistake, refused before anything is read rather than replaying nothing. Bounds
 * of different kinds are compared once resolved (`refuseReversed`).
 */
export function checkBoundsOrder(from: RangeBound, to: RangeBound): void {
  const refuse = (what: string) => configError(`--to ${describeBound(to)} is before --from ${describeBound(from)}${what}: the range would be empty`);
  if (from.kind === 'time' && to.kind === 'time' && to.time < from.time) throw refuse('');
  if (from.kind === 'offsets' && to.kind === 'offsets') {
    for (const f of from.offsets) {
      const t = to.offsets.find((o) => o.partition === f.partition && o.topic === f.topic);
      if (t !== undefined && t.offset < f.offset) throw refuse(` in partition ${f.topic === undefined ? '' : `${f.topic}:`}${f.partition}`);
    }
  }
}

/** An end the user set (a time or an offset) before a start the user set, in one partition: a mistake. */
function refuseReversed(from: RangeBound, to: RangeBound, where: string, start: bigint, end: bigint): void {
  throw configError(`--to ${describeBound(to)} is before --from ${describeBound(from)} in ${where} (offset ${end} < ${start}): the range would be empty there`);
}

/** Whether a bound names this partition's position itself, rather than falling back to earliest or latest. */
function setsPartition(bound: RangeBound, topic: string, partition: number): boolean {
  return bound.kind === 'time' || (bound.kind === 'offsets' && explicitOffset(bound, topic, partition) !== undefined);
}

/** The bound as written back in reports (canonical form). */
export function describeBound(bound: RangeBound): string {
  switch (bound.kind) {
    case 'earliest':
    case 'latest':
      return bound.kind;
    case 'time':
      return bound.text;
    case 'offsets':
      return bound.offsets.map((o) => `${o.topic === undefined ? '' : `${o.topic}:`}${o.partition}:${o.offset}`).join(',');
  }
}

const big = (s: string): bigint => BigInt(s);
const clamp = (x: bigint, low: bigint, high: bigint): bigint => (x < low ? low : x > high ? high : x);

function explicitOffset(bound: RangeBound & { kind: 'offsets' }, topic: string, partition: number): bigint | undefined {
  return (
    bound.offsets.find((o) => o.topic === topic && o.partition === partition)?.offset ??
    bound.offsets.find((o) => o.topic === undefined && o.partition === partition)?.offset
  );
}

function checkNamedPartitions(bound: RangeBound, flag: string, partitions: Map<string, Set<number>>): void {
  if (bound.kind !== 'offsets') return;
  for (const o of bound.offsets) {
    const topics = o.topic === undefined ? [...partitions.keys()] : [o.topic];
    for (const topic of topics) {
      const known = partitions.get(topic);
      if (known === undefined) throw configError(`${flag} names topic ${topic}, which is not a source topic of the topology (${[...partitions.keys()].join(', ')})`);
      if (!known.has(o.partition)) {
        throw configError(`${flag} names partition ${o.partition} of ${topic}, which has partitions 0..${known.size - 1}`);
      }
    }
  }
}

/**
 * Resolves the bounds against the topics' current offsets, once: the result is the exact set of messages
 * the replay reads. Offsets outside [low, high] are clamped (a start before the low watermark was deleted
 * by retention); an end before its start gives an empty partition.
 */
export async function resolveKafkaRange(
  admin: Admin,
  topics: readonly string[],
  from: RangeBound,
  to: RangeBound,
): Promise<PartitionRange[]> {
  checkBoundsOrder(from, to);
  const watermarks = new Map<string, { partition: number; low: string; high: string }[]>();
  for (const topic of topics) watermarks.set(topic, await topicRange(admin, topic));
  const partitions = new Map([...watermarks].map(([topic, ws]) => [topic, new Set(ws.map((w) => w.partition))]));
  checkNamedPartitions(from, '--from', partitions);
  checkNamedPartitions(to, '--to', partitions);

  const at = async (bound: RangeBound, topic: string, isEnd: boolean): Promise<Map<number, bigint>> => {
    const ws = watermarks.get(topic)!;
    const out = new Map<number, bigint>();
    if (bound.kind === 'time') {
      for (const o of await offsetsAtTime(admin, topic, bound.time)) out.set(o.partition, big(o.offset));
    }
    for (const w of ws) {
      const low = big(w.low);
      const high = big(w.high);
      let offset: bigint;
      if (bound.kind === 'earliest') offset = low;
      else if (bound.kind === 'latest') offset = high;
      else if (bound.kind === 'time') offset = out.get(w.partition) ?? high;
      else offset = explicitOffset(bound, topic, w.partition) ?? (isEnd ? high : low);
      out.set(w.partition, clamp(offset, low, high));
    }
    return out;
  };

  const ranges: PartitionRange[] = [];
  for (const topic of topics) {
    const starts = await at(from, topic, false);
    const ends = await at(to, topic, true);
    for (const w of watermarks.get(topic)!) {
      const start = starts.get(w.partition)!;
      const end = ends.get(w.partition)!;
      if (end < start && setsPartition(from, topic, w.partition) && setsPartition(to, topic, w.partition)) {
        refuseReversed(from, to, `partition ${topic}:${w.partition}`, start, end);
      }
      ranges.push({ topic, partition: w.partition, start: String(start), end: String(end < start ? start : end) });
    }
  }
  return ranges;
}

/** Messages in a resolved range. */
export function rangeSize(ranges: readonly PartitionRange[]): number {
  return ranges.reduce((n, r) => n + Number(big(r.end) - big(r.start)), 0);
}

/**
 * The same bounds over a file of lines, where the partition is 0 and the offset is the line number
 * (0-based). `firstAtOrAfter(t)` is the first line whose event time is at or after t (or `lines`).
 */
export function resolveLineRange(
  lines: number,
  from: RangeBound,
  to: RangeBound,
  firstAtOrAfter: (time: number) => number,
): { start: number; end: number } {
  checkBoundsOrder(from, to);
  const one = (bound: RangeBound, flag: string, isEnd: boolean): number => {
    switch (bound.kind) {
      case 'earliest':
        return 0;
      case 'latest':
        return lines;
      case 'time':
        return firstAtOrAfter(bound.time);
      case 'offsets': {
        for (const o of bound.offsets) {
          if (o.partition !== 0 || o.topic !== undefined) {
            throw configError(`${flag}: a file replay has one partition, 0 (offsets are line numbers); got ${describeBound(bound)}`);
          }
        }
        const o = bound.offsets[0]?.offset ?? BigInt(isEnd ? lines : 0);
        return Number(o > BigInt(lines) ? BigInt(lines) : o);
      }
    }
  };
  const start = one(from, '--from', false);
  const end = one(to, '--to', true);
  if (end < start && setsPartition(from, 'file', 0) && setsPartition(to, 'file', 0)) refuseReversed(from, to, 'the file', BigInt(start), BigInt(end));
  return { start, end: Math.max(start, end) };
}
