/**
 * Resolves the jars of an Apache Kafka broker from Maven Central into a cache folder, once. The jars are
 * copied into a temporary folder first and renamed into place, so an interrupted download is never used.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, TokrsError } from '../errors.js';

export const DEFAULT_KAFKA_VERSION = '4.1.1';
export const LOG4J_VERSION = '2.24.3';
const POM = fileURLToPath(new URL('./broker-pom.xml', import.meta.url));
const COMPLETE_MARKER = '.complete';

const brokerError = (message: string): TokrsError => new TokrsError(ERROR_CODES.BROKER, message);

/** True when `command` can be run (it is on the PATH). */
export function hasCommand(command: string, versionFlag = '-version'): boolean {
  const result = spawnSync(command, [versionFlag], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

export function jarsDir(cache: string, version = DEFAULT_KAFKA_VERSION): string {
  return join(cache, `kafka-${version}`, 'lib');
}

/** Returns the folder holding the broker's jars, resolving them through Maven the first time. */
export function ensureBrokerJars(cache: string, version = DEFAULT_KAFKA_VERSION): string {
  const dir = jarsDir(cache, version);
  if (existsSync(join(dir, COMPLETE_MARKER))) return dir;
  if (!hasCommand('mvn', '--version')) {
    throw brokerError(
      `Maven (mvn) is not installed, and it is needed once to fetch the Kafka ${version} jars into ${dir}. ` +
        'Install Maven (e.g. `apt-get install maven`), or run Kafka with Docker: `docker compose -f docker/compose.yaml up -d` ' +
        'and set KAFKA_BROKERS=127.0.0.1:9092.',
    );
  }
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const result = spawnSync(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      POM,
      `-Dkafka.version=${version}`,
      `-Dlog4j.version=${LOG4J_VERSION}`,
      // Debian's Maven 3.8 ships an old dependency plugin; name a recent one.
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${staging}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const jars = existsSync(staging) ? readdirSync(staging).filter((f) => f.endsWith('.jar')) : [];
  if (result.status !== 0 || !jars.some((f) => f.startsWith(`kafka_2.13-${version}`))) {
    rmSync(staging, { recursive: true, force: true });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
    throw brokerError(
      `Maven could not fetch org.apache.kafka:kafka_2.13:${version} from Maven Central (is the network or a Maven ` +
        `mirror reachable? Maven works offline only once the jars are in ~/.m2). Maven said:\n${output}`,
    );
  }
  writeFileSync(join(staging, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, '..'), { recursive: true });
  renameSync(staging, dir);
  return dir;
}
