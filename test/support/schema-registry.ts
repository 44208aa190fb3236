/**
 * A small in-process fake of the Confluent Schema Registry REST API, for tests where no registry can run
 * (no Docker): POST /subjects/{subject}/versions registers a schema and answers its id (the same text gets
 * the same id, across subjects, as the real registry does), GET /schemas/ids/{id} answers the schema, GET
 * /subjects lists subjects. It is the registry side only: Kafka is always the real broker.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRegistry {
  readonly url: string;
  /** Subject → schema ids, in registration order (a repeated registration adds nothing). */
  readonly subjects: Map<string, number[]>;
  readonly schemas: Map<number, string>;
  /** Requests seen, e.g. "POST /subjects/x-value/versions". */
  readonly requests: string[];
  /** Answer the next N requests with this HTTP status (to test failures and retries). */
  failNext(status: number, times?: number): void;
  close(): Promise<void>;
}

const TYPE = 'application/vnd.schemaregistry.v1+json';

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const subjects = new Map<string, number[]>();
  const schemas = new Map<number, string>();
  const idOf = new Map<string, number>();
  const requests: string[] = [];
  let failures: { status: number; times: number } | undefined;
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': TYPE });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(`${req.method} ${path}`);
    if (failures !== undefined && failures.times > 0) {
      failures.times--;
      reply(res, failures.status, { error_code: failures.status * 100, message: 'failing on purpose' });
      return;
    }
    const register = /^\/subjects\/([^/]+)\/versions$/.exec(path);
    if (req.method === 'POST' && register) {
      const subject = decodeURIComponent(register[1]!);
      let schema: unknown;
      try {
        schema = (JSON.parse(body) as { schema?: unknown }).schema;
        JSON.parse(String(schema));
      } catch {
        reply(res, 422, { error_code: 42201, message: 'Invalid schema' });
        return;
      }
      const text = String(schema);
      let id = idOf.get(text);
      if (id === undefined) {
        id = idOf.size + 1;
        idOf.set(text, id);
        schemas.set(id, text);
      }
      const list = subjects.get(subject) ?? [];
      if (!list.includes(id)) list.push(id);
      subjects.set(subject, list);
      reply(res, 200, { id });
      return;
    }
    const byId = /^\/schemas\/ids\/(\d+)$/.exec(path);
    if (req.method === 'GET' && byId) {
      const schema = schemas.get(Number(byId[1]));
      if (schema === undefined) reply(res, 404, { error_code: 40403, message: 'Schema not found' });
      else reply(res, 200, { schema });
      return;
    }
    if (req.method === 'GET' && path === '/subjects') {
      reply(res, 200, [...subjects.keys()]);
      return;
    }
    reply(res, 404, { error_code: 404, message: `no route ${req.method} ${path}` });
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    subjects,
    schemas,
    requests,
    failNext(status, times = 1) {
      failures = { status, times };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
