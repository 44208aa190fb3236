/** The decode stage: raw Kafka messages in, TextRecords out; an undecodable message goes to `reject`. */
import { Observable, type OperatorFunction } from 'rxjs';
import { ERROR_CODES, TokrsError, describeError, isTokrsError } from '../errors.js';
import type { TextRecord } from '../topology/record.js';
import type { Reject } from '../topology/reject.js';
import type { KafkaHeaders } from './avro.js';
import type { InputDecoder } from './input.js';

/** A message as read from Kafka (or replayed from a file, with a made-up topic and line offsets). */
export interface RawMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** ms since the epoch */
  readonly timestamp: number;
  readonly headers: KafkaHeaders;
}

export function decode(decoder: InputDecoder, reject: Reject): OperatorFunction<RawMessage, TextRecord> {
  return (source) =>
    new Observable<TextRecord>((subscriber) =>
      source.subscribe({
        next(message) {
          let record: TextRecord;
          try {
            record = decoder(message.value, message);
          } catch (error) {
            // The decoders throw TokrsErrors; anything else is a decoder bug, still not worth the whole run.
            reject(
              message,
              isTokrsError(error) ? error : new TokrsError(ERROR_CODES.DECODE, describeError(error), { cause: error }),
            );
            return;
          }
          subscriber.next(record);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}
