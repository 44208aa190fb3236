/** Which Kafka cluster a command talks to: --brokers, else KAFKA_BROKERS, else the topology's, else `tokrs kafka up`'s. */
import { configError } from '../errors.js';
import { parseBrokers } from '../kafka/client.js';
import { isOurBroker, readState } from '../kafka/local-broker.js';
import { defaultBrokerDataDir } from '../kafka/paths.js';

export function resolveBrokers(flag: string | undefined, fromTopology?: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  if (flag !== undefined && flag !== '') return parseBrokers(flag);
  const fromEnv = parseBrokers(env.KAFKA_BROKERS ?? '');
  if (fromEnv.length > 0) return fromEnv;
  if (fromTopology !== undefined && fromTopology.length > 0) return [...fromTopology];
  const local = readState(defaultBrokerDataDir());
  if (local !== undefined && isOurBroker(local)) return [local.bootstrap];
  throw configError(
    'no Kafka brokers: pass --brokers host:port, set KAFKA_BROKERS, name source.brokers in the topology, or start a local broker with `tokrs kafka up`',
  );
}
