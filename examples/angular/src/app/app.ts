import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { scan } from 'rxjs';
import { FeedSocket, type Tick } from './feed-socket';
import { statusLabel$ } from './status-label';

/** What the page shows of the `ticks` channel, counted as ticks arrive. */
interface Tally {
  readonly first: number | undefined;
  readonly last: number | undefined;
  readonly received: number;
  /** Ticks that did not follow the previous one (a jump forward). */
  readonly gaps: number;
  /** Ticks at or before the previous one. */
  readonly repeats: number;
  readonly recent: readonly Tick[];
}

const NO_TICKS: Tally = { first: undefined, last: undefined, received: 0, gaps: 0, repeats: 0, recent: [] };

function count(tally: Tally, tick: Tick): Tally {
  const { last } = tally;
  return {
    first: tally.first ?? tick.seq,
    last: last === undefined ? tick.seq : Math.max(last, tick.seq),
    received: tally.received + 1,
    gaps: tally.gaps + (last !== undefined && tick.seq > last + 1 ? 1 : 0),
    repeats: tally.repeats + (last !== undefined && tick.seq <= last ? 1 : 0),
    recent: [tick, ...tally.recent].slice(0, 5),
  };
}

@Component({
  selector: 'app-root',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>rxtether × Angular</h1>
    <p class="status" [attr.data-state]="status().state" data-testid="status">{{ label() }}</p>
    <dl>
      <dt>last tick</dt>
      <dd data-testid="last">{{ ticks().last ?? '–' }}</dd>
      <dt>received</dt>
      <dd data-testid="received">{{ ticks().received }}</dd>
      <dt>first tick seen</dt>
      <dd data-testid="first">{{ ticks().first ?? '–' }}</dd>
      <dt>gaps / repeats</dt>
      <dd data-testid="gaps">{{ ticks().gaps }} / {{ ticks().repeats }}</dd>
      <dt>reconnects</dt>
      <dd data-testid="reconnects">{{ status().reconnects }}</dd>
    </dl>
    <ol class="recent">
      @for (tick of ticks().recent; track tick.seq) {
        <li>#{{ tick.seq }} at {{ tick.at | date: 'HH:mm:ss.SSS' }}</li>
      }
    </ol>
  `,
  styles: `
    .status { font-size: 1.4rem; font-weight: 600; }
    .status[data-state='open'] { color: #1a7f37; }
    .status[data-state='reconnecting'], .status[data-state='connecting'] { color: #9a6700; }
    .status[data-state='closed'] { color: #cf222e; }
    dl { display: grid; grid-template-columns: max-content auto; gap: 0.25rem 1rem; }
    dd { margin: 0; font-variant-numeric: tabular-nums; }
  `,
  imports: [DatePipe],
})
export class App {
  private readonly socket = inject(FeedSocket);
  readonly status = this.socket.status;
  readonly label = toSignal(statusLabel$(this.socket.status$), { requireSync: true });
  readonly ticks = toSignal(this.socket.channel('ticks').pipe(scan(count, NO_TICKS)), { initialValue: NO_TICKS });
}
