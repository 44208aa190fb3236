/**
 * A "before rejoin" hook for KafkaJS 2.2 consumers: the equivalent of the Java consumer's
 * `ConsumerRebalanceListener.onPartitionsRevoked`, which runs before the member sends its JoinGroup.
 * KafkaJS has no such callback (its REBALANCING event is emitted synchronously, right before the rejoin,
 * and cannot delay it), so a transaction in flight when partitions move could commit their offsets after
 * the new owner had read them: KafkaJS's TxnOffsetCommit (v0-v1) carries no group generation (KIP-447), and
 * its OffsetFetch (v1-v4) cannot ask for stable offsets, so the broker can neither refuse the late commit
 * nor make the new owner wait for it.
 *
 * A rebalance completes only once every member has rejoined (or the rebalance timeout has passed), and the
 * new owner reads committed offsets only after that. So a member that finishes its commits before it sends
 * JoinGroup hands its partitions over exactly. Every path by which KafkaJS rejoins (a heartbeat answered
 * REBALANCE_IN_PROGRESS / NOT_COORDINATOR / ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID in the runner loop,
 * stale metadata in the fetch loop) goes through `ConsumerGroup.prototype.joinAndSync`
 * (kafkajs/src/consumer/runner.js scheduleFetchManager, consumerGroup.js recoverFromFetch), so that is
 * where the hook is installed, once per process. The hook reaches only the consumer that rejoins: it is
 * announced on that consumer's own instrumentation emitter, as a REBALANCING event that carries `hold`.
 */
import { createRequire } from 'node:module';

/** What a consumer listening for REBALANCING receives when the event comes from this hook. */
export interface BeforeRejoinPayload {
  groupId: string;
  memberId: string | null;
  /**
   * True when the coordinator no longer knows this member (its session expired): its partitions may
   * already belong to others, so nothing may be committed for them.
   */
  lost: boolean;
  /** The rejoin waits for these promises (settled, not necessarily fulfilled). */
  hold(work: Promise<unknown>): void;
}

/** The parts of KafkaJS's internal ConsumerGroup (kafkajs/src/consumer/consumerGroup.js) the hook uses. */
interface ConsumerGroupInternals {
  groupId: string;
  memberId: string | null;
  generationId: number | null;
  sessionTimeout: number;
  instrumentationEmitter: { emit(eventName: string, payload: unknown): void };
  heartbeat(options: { interval: number }): Promise<void>;
  joinAndSync(this: ConsumerGroupInternals): Promise<void>;
}

/** kafkajs/src/consumer/instrumentationEvents.js: REBALANCING. */
const REBALANCING = 'consumer.rebalancing';
const INSTALLED = Symbol.for('tokrs.kafkajs.beforeRejoin');

let installed = false;

/** Installs the hook (idempotent). Throws if this KafkaJS has no ConsumerGroup.joinAndSync to wrap. */
export function installBeforeRejoinHook(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  // The same module instance KafkaJS itself uses: require's cache is keyed by the resolved file.
  const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupInternals & { [INSTALLED]?: true } };
  const proto = ConsumerGroup.prototype;
  if (proto[INSTALLED]) {
    installed = true;
    return;
  }
  const original = proto.joinAndSync;
  if (typeof original !== 'function') {
    throw new Error('kafkajs ConsumerGroup.joinAndSync not found: the before-rejoin hook (exactly-once across rebalances) needs KafkaJS 2.2');
  }
  proto.joinAndSync = async function joinAndSync(this: ConsumerGroupInternals): Promise<void> {
    // The first join (no generation yet) has nothing to hand over.
    if (this.generationId !== null && this.generationId !== undefined) {
      const holds: Promise<unknown>[] = [];
      const payload: BeforeRejoinPayload = {
        groupId: this.groupId,
        memberId: this.memberId,
        // The runner clears memberId after UNKNOWN_MEMBER_ID (runner.js scheduleFetchManager).
        lost: this.memberId === null,
        hold: (work) => void holds.push(work),
      };
      this.instrumentationEmitter.emit(REBALANCING, payload);
      if (holds.length > 0) {
        // The coordinator removes a member that neither heartbeats nor rejoins within its session timeout;
        // heartbeats during a rebalance are answered REBALANCE_IN_PROGRESS but keep the session alive.
        const keepAlive = setInterval(() => void this.heartbeat({ interval: 0 }).catch(() => undefined), Math.max(500, Math.floor(this.sessionTimeout / 3)));
        try {
          await Promise.allSettled(holds);
        } finally {
          clearInterval(keepAlive);
        }
      }
    }
    return original.call(this);
  };
  proto[INSTALLED] = true;
  installed = true;
}
