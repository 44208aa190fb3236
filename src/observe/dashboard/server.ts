/**
 * The live dashboard: a small HTTP server (node:http, no framework) that serves one page, uPlot from
 * node_modules, a JSON view of each topology and a Server-Sent Events stream of updates. Bound to
 * 127.0.0.1 by default.
 *
 * Only `POST /api/try` writes to Kafka (the prediction it makes, to the topology's predictions topic);
 * every other route reads memory that the watchers fill from the output topics.
 *
 * Routes (with --token, all but the uPlot assets need `Authorization: Bearer <token>` or `?token=`):
 *   GET  /                         the page
 *   GET  /assets/uPlot.iife.min.js, /assets/uPlot.min.css
 *   GET  /api/topologies           [{ name, description }]
 *   GET  /api/state?topology=NAME  TopologyView
 *   GET  /events?topology=NAME     SSE: `init` (TopologyView), then `update` (ViewUpdate) events
 *   POST /api/try                  { topology, text } → TryItResult & { published }
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Producer } from 'kafkajs';
import { createOutputEncoder, type OutputEncoder } from '../../topology/outputs.js';
import { predictionRecord } from '../../codec/mapping.js';
import { describeError, ERROR_CODES, TokrsError } from '../../errors.js';
import { createKafka, type Kafka } from '../../kafka/client.js';
import type { KafkaSecurityOptions } from '../../kafka/security.js';
import type { Topology } from '../../topology/spec.js';
import { silentLogger, type Logger } from '../logger.js';
import type { ViewUpdate } from './history.js';
import { Predictor, type TryItResult } from './predictor.js';
import { TopologyWatcher } from './watcher.js';

export interface DashboardOptions {
  topologies: readonly Topology[];
  brokers: readonly string[];
  /** SASL and TLS for its Kafka client, as `resolveKafkaSecurity` builds them (secrets already read). */
  security?: KafkaSecurityOptions;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** When set, every data route needs it as a bearer token or a `token` query parameter. */
  token?: string;
  /** Publish "try it" predictions to the topology's predictions topic (default true). */
  publishPredictions?: boolean;
  logger?: Logger;
  lagIntervalMs?: number;
}

export interface DashboardHandle {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly watchers: ReadonlyMap<string, TopologyWatcher>;
  close(): Promise<void>;
}

const PAGE_FILE = fileURLToPath(new URL('./page.html', import.meta.url));
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));
const ASSETS: Record<string, { file: string; type: string }> = {
  '/assets/uPlot.iife.min.js': { file: join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uPlot.min.css': { file: join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};
const MAX_BODY = 64 * 1024;
const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startDashboard(options: DashboardOptions): Promise<DashboardHandle> {
  if (options.topologies.length === 0) throw new TokrsError(ERROR_CODES.CONFIG, 'the dashboard needs at least one topology');
  const names = new Set<string>();
  for (const t of options.topologies) {
    if (names.has(t.name)) throw new TokrsError(ERROR_CODES.CONFIG, `two topologies are named ${t.name}; the dashboard tells them apart by name`);
    names.add(t.name);
  }
  const host = options.host ?? '127.0.0.1';
  const log = (options.logger ?? silentLogger).child({ step: 'dashboard' });
  // Its own client: short retries, so an outage shows on the page within seconds instead of minutes.
  const kafka: Kafka = createKafka({
    brokers: options.brokers,
    clientId: 'tokrs-dashboard',
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 3000 },
    ...options.security,
  });
  const page = readFileSync(PAGE_FILE);
  const clients = new Map<string, Set<ServerResponse>>();
  const watchers = new Map<string, TopologyWatcher>();
  const predictors = new Map<string, Predictor>();
  const topologies = new Map(options.topologies.map((t) => [t.name, t]));

  const push = (topology: string, update: ViewUpdate): void => {
    const set = clients.get(topology);
    if (set === undefined || set.size === 0) return;
    const frame = `event: update\ndata: ${JSON.stringify(update)}\n\n`;
    for (const res of set) res.write(frame);
  };
  for (const t of options.topologies) {
    clients.set(t.name, new Set());
    predictors.set(t.name, new Predictor(t));
    watchers.set(
      t.name,
      new TopologyWatcher({
        kafka,
        topology: t,
        onUpdate: (u) => push(t.name, u),
        logger: log,
        ...(options.lagIntervalMs === undefined ? {} : { lagIntervalMs: options.lagIntervalMs }),
      }),
    );
  }

  let producer: Promise<Producer> | undefined;
  const encoders = new Map<string, Promise<OutputEncoder>>();
  const publish = async (t: Topology, result: TryItResult): Promise<boolean> => {
    if (options.publishPredictions === false || t.outputs.predictions === null) return false;
    producer ??= (async () => {
      const p = kafka.producer({ allowAutoTopicCreation: false });
      await p.connect();
      return p;
    })();
    const p = await producer.catch((error: unknown) => {
      producer = undefined;
      throw error;
    });
    const record = predictionRecord({
      topology: t.name,
      id: `dashboard-${randomUUID()}`,
      label: result.label ?? undefined,
      probabilities: result.probabilities,
      modelVersion: result.modelVersion,
      timestamp: Date.now(),
    });
    // In the topology's outputs.format (Confluent framing registers the schema once per topology).
    let encoder = encoders.get(t.name);
    if (encoder === undefined) {
      encoder = createOutputEncoder(t);
      encoders.set(t.name, encoder);
      encoder.catch(() => encoders.delete(t.name));
    }
    const encoded = (await encoder).encode({ kind: 'prediction', record });
    if (encoded === undefined) return false;
    await p.send({ topic: encoded.topic, messages: [{ key: t.name, value: encoded.value, ...(encoded.headers === undefined ? {} : { headers: encoded.headers }) }] });
    return true;
  };

  const topologyParam = (url: URL): Topology => {
    const name = url.searchParams.get('topology') ?? options.topologies[0]!.name;
    const t = topologies.get(name);
    if (t === undefined) throw new HttpError(404, `no topology named ${name}; this dashboard shows ${[...names].join(', ')}`);
    return t;
  };

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    if (options.token === undefined) return true;
    const header = req.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    return tokenMatches(bearer ?? url.searchParams.get('token') ?? undefined, options.token);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    // DNS rebinding: a page on another origin that resolves its name to 127.0.0.1 must not read the data.
    if (LOOPBACK_NAMES.has(host)) {
      const hostname = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (!LOOPBACK_NAMES.has(hostname)) throw new HttpError(403, `unexpected Host header ${hostname}`);
    }
    const asset = ASSETS[url.pathname];
    if (req.method === 'GET' && asset !== undefined) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'max-age=3600' });
      res.end(readFileSync(asset.file));
      return;
    }
    if (!authorized(req, url)) throw new HttpError(401, 'this dashboard needs its token: ?token=… or Authorization: Bearer …');

    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/topologies') {
      sendJson(res, 200, options.topologies.map((t) => ({ name: t.name, description: t.description ?? null })));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/state') {
      sendJson(res, 200, watchers.get(topologyParam(url).name)!.history.view());
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      const t = topologyParam(url);
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      // retry: how soon the browser's EventSource reconnects after the server goes away.
      res.write(`retry: 1500\nevent: init\ndata: ${JSON.stringify(watchers.get(t.name)!.history.view())}\n\n`);
      const set = clients.get(t.name)!;
      set.add(res);
      req.on('close', () => set.delete(res));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/try') {
      // JSON only: a cross-site form cannot send it without a CORS preflight, which this server never grants.
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        throw new HttpError(415, 'send the text as JSON: {"topology": "...", "text": "..."}');
      }
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (error) {
        if (error instanceof HttpError) throw error;
        throw new HttpError(400, 'the body is not JSON');
      }
      const { topology, text } = (body ?? {}) as { topology?: unknown; text?: unknown };
      if (typeof text !== 'string') throw new HttpError(400, 'text must be a string');
      const name = typeof topology === 'string' ? topology : options.topologies[0]!.name;
      const t = topologies.get(name);
      if (t === undefined) throw new HttpError(404, `no topology named ${name}`);
      const result = predictors.get(t.name)!.predict(text, watchers.get(t.name)!.history.snapshotRecord);
      let published = false;
      let publishError: string | undefined;
      try {
        published = await publish(t, result);
      } catch (error) {
        publishError = describeError(error);
        log.warn({ err: error }, 'dashboard: could not publish a try-it prediction');
      }
      sendJson(res, 200, { ...result, published, ...(publishError === undefined ? {} : { publishError }) });
      return;
    }
    throw new HttpError(404, `no route ${req.method ?? ''} ${url.pathname}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status =
        error instanceof HttpError
          ? error.status
          : error instanceof TokrsError && (error.code === ERROR_CODES.CONFIG || error.code === ERROR_CODES.TOKENIZE)
            ? 400
            : error instanceof TokrsError && error.code === ERROR_CODES.SNAPSHOT
              ? 409
              : 500;
      if (status === 500) log.error({ err: error }, 'dashboard request failed');
      if (res.headersSent) res.end();
      else sendJson(res, status, { error: describeError(error), ...(error instanceof TokrsError ? { code: error.code } : {}) });
    });
  });
  const heartbeat = setInterval(() => {
    for (const set of clients.values()) for (const res of set) res.write(': keep-alive\n\n');
  }, 15_000);

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new TokrsError(ERROR_CODES.CONFIG, `port ${options.port ?? 0} on ${host} is in use; choose another with --port`)
          : error,
      ),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  for (const w of watchers.values()) w.start();
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}/${options.token === undefined ? '' : `?token=${encodeURIComponent(options.token)}`}`;
  log.info({ url }, 'dashboard listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    host: address.address,
    port: address.port,
    watchers,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        for (const set of clients.values()) for (const res of set) res.end();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...watchers.values()].map((w) => w.close()));
        if (producer !== undefined) await (await producer.catch(() => undefined))?.disconnect().catch(() => undefined);
        for (const p of predictors.values()) p.dispose();
      })();
      return closing;
    },
  };
}
