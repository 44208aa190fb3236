/**
 * A scheduler whose clock is event time: `now()` is the timestamp of the event being processed, and a
 * scheduled action runs when event time reaches its due time (not when the wall clock does). Replays pass
 * it to the pipeline, so time-triggered reports and time windows depend only on the data, and the same
 * range gives the same reports however fast the machine is.
 *
 * Like RxJS's VirtualTimeScheduler, but driven from outside: the replayer calls `advanceTo(t)` before
 * each event. Actions due at or before `t` run first, in (due time, scheduling order) order, each with the
 * clock set to its own due time, so a periodic report is stamped with the time it was due.
 *
 * ```ts
 * const s = new EventTimeScheduler(1_000);
 * s.schedule(() => console.log('due', s.now()), 500);
 * s.advanceTo(1_400); // nothing
 * s.advanceTo(1_700); // logs "due 1500"; s.now() is then 1700
 * ```
 */
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

interface Pending {
  readonly due: number;
  readonly seq: number;
  readonly action: EventTimeAction<unknown>;
  readonly state: unknown;
}

class EventTimeAction<T> extends Subscription implements SchedulerAction<T> {
  pending: Pending | undefined;

  constructor(
    private readonly scheduler: EventTimeScheduler,
    readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super(() => this.scheduler.cancel(this as EventTimeAction<unknown>));
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.scheduler.enqueue(this as EventTimeAction<unknown>, state, delay);
    return this;
  }
}

export class EventTimeScheduler implements SchedulerLike {
  private clock: number;
  private seq = 0;
  /** Sorted by (due, seq); small (one entry per periodic timer), so a sorted array is enough. */
  private queue: Pending[] = [];

  constructor(start: number) {
    this.clock = start;
  }

  now(): number {
    return this.clock;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new EventTimeAction<T>(this, work).schedule(state, delay);
  }

  /** Moves event time forward to `time`, running every action due by then. Earlier times are ignored. */
  advanceTo(time: number): void {
    while (this.queue.length > 0 && this.queue[0]!.due <= time) {
      const next = this.queue.shift()!;
      next.action.pending = undefined;
      this.clock = Math.max(this.clock, next.due);
      next.action.work.call(next.action, next.state);
    }
    this.clock = Math.max(this.clock, time);
  }

  /** Actions waiting for event time to reach them. */
  get pending(): number {
    return this.queue.length;
  }

  /** @internal */
  enqueue(action: EventTimeAction<unknown>, state: unknown, delay: number): void {
    this.cancel(action);
    const entry: Pending = { due: this.clock + Math.max(0, delay), seq: this.seq++, action, state };
    action.pending = entry;
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1]!.due > entry.due) i--;
    this.queue.splice(i, 0, entry);
  }

  /** @internal */
  cancel(action: EventTimeAction<unknown>): void {
    if (action.pending === undefined) return;
    const i = this.queue.indexOf(action.pending);
    if (i >= 0) this.queue.splice(i, 1);
    action.pending = undefined;
  }
}
