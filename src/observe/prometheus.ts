/**
 * A Prometheus endpoint for a running topology (prom-client): messages in and out, dead letters by code,
 * consumer lag, reservoir fill, model updates and the rolling accuracy, labelled with topology and
 * instance. Served on 127.0.0.1 by default; `GET /metrics`.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { TopologyOutput } from '../topology/pipeline.js';

export interface TopologyMetrics {
  readonly registry: Registry;
  /** Feed every output of the pipeline here. */
  observe(output: TopologyOutput): void;
  /** Consumer lag (end offsets minus committed), summed over partitions. */
  setLag(lag: number): void;
  /** Serves `/metrics` until `close()`. */
  listen(port: number, host?: string): Promise<Server>;
  close(): Promise<void>;
}

export function createTopologyMetrics(topology: string, instance: string): TopologyMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ topology, instance });
  collectDefaultMetrics({ register: registry, prefix: 'tokrs_process_' });
  const messagesIn = new Gauge({ name: 'tokrs_messages_in', help: 'Messages read and processed (as of the last metrics report)', registers: [registry] });
  const labelled = new Gauge({ name: 'tokrs_messages_labelled', help: 'Labelled messages scored and learned from', registers: [registry] });
  const outputs = new Counter({ name: 'tokrs_messages_out_total', help: 'Output records produced, by kind', labelNames: ['kind'], registers: [registry] });
  const deadLetters = new Counter({ name: 'tokrs_dead_letters_total', help: 'Messages sent to the dead-letter topic, by error code', labelNames: ['code'], registers: [registry] });
  const lag = new Gauge({ name: 'tokrs_consumer_lag', help: 'Messages in the source topics not yet committed by the group', registers: [registry] });
  const reservoirFill = new Gauge({ name: 'tokrs_reservoir_fill_ratio', help: 'Items in the reservoir over its capacity', registers: [registry] });
  const updates = new Gauge({ name: 'tokrs_model_updates', help: 'Examples the model learned from (stream and replay)', registers: [registry] });
  const accuracy = new Gauge({ name: 'tokrs_rolling_accuracy', help: 'Prequential accuracy over the rolling window', registers: [registry] });
  const throughput = new Gauge({ name: 'tokrs_messages_per_second', help: 'Messages per second since the previous report', registers: [registry] });
  let server: Server | undefined;

  return {
    registry,
    observe(output) {
      outputs.inc({ kind: output.kind });
      if (output.kind === 'deadLetter') deadLetters.inc({ code: output.record.errorCode });
      if (output.kind !== 'metrics') return;
      const { record, report } = output;
      messagesIn.set(record.counts.seen);
      labelled.set(report.counts.labelled);
      updates.set(report.counts.learned);
      throughput.set(report.throughput.messagesPerSecond);
      if (report.rolling !== null) accuracy.set(report.rolling.accuracy);
      const capacity = record.reservoir?.capacity ?? 0;
      if (capacity > 0) reservoirFill.set(report.labels.reservoirSize / capacity);
    },
    setLag: (value) => lag.set(value),
    listen(port, host = '127.0.0.1') {
      server = createServer((req, res) => {
        if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        registry
          .metrics()
          .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
          .catch((error: unknown) => res.writeHead(500).end(String(error)));
      });
      const s = server;
      return new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => resolve(s));
      });
    },
    close: () => new Promise((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))),
  };
}
