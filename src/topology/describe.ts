/** A topology printed as its steps, topics and settings (Kafka Streams' `Topology.describe()`). */
import { describeSecurity } from '../kafka/security.js';
import { filtersInJavaScript } from '../tokenize/create-tokenizer.js';
import { nativeJiebaStatus } from '../tokenize/native-jieba.js';
import { outputTopics } from './runner.js';
import type { Topology } from './spec.js';

/** Which binding of cppjieba the nodejieba engine will use here. */
function describeBinding(binding: 'auto' | 'addon' | 'nodejieba', filtered: boolean): string {
  if (binding === 'nodejieba') return "nodejieba's binding";
  const status = nativeJiebaStatus();
  // Stop words and the punctuation filter run in JavaScript, so then the addon only segments.
  if (status.loaded) return filtered ? "tokrs's addon, segmenting only: stop words or dropPunctuation hash in JavaScript" : "tokrs's addon";
  return binding === 'auto' ? "nodejieba's binding: tokrs's addon is not built" : "tokrs's addon, NOT BUILT: run npm install";
}

export function describeTopology(t: Topology): string {
  const lines: string[] = [];
  const o = t.outputs;
  lines.push(`topology ${t.name}${t.description ? `: ${t.description}` : ''} (seed ${t.seed})`);
  lines.push(
    `  1. source     topics ${t.source.topics.join(', ')}; group ${t.source.group ?? `tokrs-${t.name}`}; start ${t.source.start}; at most ${t.source.maxInFlight} messages / ${t.source.maxInFlightBytes} bytes in flight`,
  );
  lines.push(`               security: ${describeSecurity(t.source.security)}`);
  const f = t.source.fields;
  lines.push(
    `  2. decode     ${t.source.format}${t.source.format === 'json' ? ` (text ${f.text}, label ${f.label ?? '-'}, id ${f.id ?? '-'}, timestamp ${f.timestamp ?? '-'})` : ''}; max ${t.source.limits.maxBytes} bytes, ${t.source.limits.maxTextLength} chars`,
  );
  const tk = t.tokenize;
  const engine =
    tk.tokenizer === 'jieba'
      ? ` ${tk.jieba.engine}${tk.jieba.engine === 'nodejieba' ? ` (${describeBinding(tk.jieba.binding, filtersInJavaScript(tk))})` : ''} ${tk.jieba.mode} hmm ${tk.jieba.hmm ? 'on' : 'off'}`
      : tk.tokenizer === 'bpe'
        ? ` ${tk.bpe.encoding} (${tk.bpe.library})`
        : tk.tokenizer === 'chars'
          ? ` 1..${tk.chars.n}-grams`
          : ` locale ${tk.words.locale}`;
  lines.push(`  3. tokenize   ${tk.tokenizer}${engine}; max ${tk.maxLength} chars; ${t.workers === 0 ? 'main thread' : `${t.workers} worker threads`}`);
  const ft = t.features;
  lines.push(
    `  4. features   2^${ft.bits} buckets, murmur3 seed ${ft.seed}${ft.signed ? ', signed' : ''}${ft.bigrams ? ', bigrams' : ''}, ${ft.weighting}${ft.l2 ? ', l2' : ''}`,
  );
  lines.push(`  5. sample     ${t.sample.method} reservoir of ${t.sample.size} per source partition`);
  const m = t.model;
  const opt = Object.entries(m.optimizer)
    .map(([k, v]) => (k === 'type' ? String(v) : `${k} ${String(v)}`))
    .join(' ');
  lines.push(`  6. learn      ${m.type} (${opt}; l1 ${m.l1}, l2 ${m.l2}); learnOn ${t.train.learnOn}, replay ${t.train.replayBatch} every ${t.train.replayEvery}`);
  const e = t.evaluate;
  lines.push(
    `  7. evaluate   prequential; report every ${e.reportEvery} messages / ${e.reportEveryMs} ms; rolling ${e.rollingWindow}, time ${e.timeWindowMs} ms, fading ${e.fadingFactor ?? '-'}`,
  );
  const outs = outputTopics(t).map((s) => s.topic);
  lines.push(`  8. sink       ${outs.length === 0 ? 'no outputs' : outs.join(', ')}${o.compression === 'none' ? '' : ` (${o.compression})`}`);
  lines.push(
    o.format === 'confluent'
      ? `               Confluent wire format; schemas registered at ${o.schemaRegistry?.url ?? '?'} as <topic>-value${o.schemaRegistry?.auth ? ` (basic auth as ${o.schemaRegistry.auth.username}, password from $${o.schemaRegistry.auth.passwordEnv})` : ''}`
      : `               plain Avro, schema named in headers`,
  );
  if (o.snapshots) lines.push(`               snapshot every ${o.snapshots.everyMessages} labelled messages`);
  if (t.checkpoint) {
    lines.push(`               ${t.guarantee}; checkpoint to ${t.checkpoint.topic} every ${t.checkpoint.everyMessages} messages / ${t.checkpoint.everyMs} ms (process and partition states)`);
  } else lines.push(`               ${t.guarantee}; no checkpoints`);
  if (t.average) lines.push(`               models averaged with the other processes' snapshots every ${t.average.everyMs} ms (max age ${t.average.maxAgeMs} ms)`);
  return `${lines.join('\n')}\n`;
}
