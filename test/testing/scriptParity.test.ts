import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { parseScript } from '../../src/testing/script.js';

/** The frame and key of each event, as rxjs's own parser reads the marbles in run mode. */
function rxjsFrames(marbles: string): Array<[number, string]> {
  let frames: Array<[number, string]> = [];
  new TestScheduler(() => {}).run(() => {
    const messages = TestScheduler.parseMarbles(marbles, { a: 'a', b: 'b', o: 'o' }, undefined, true, true);
    frames = messages.map((m) => [m.frame, (m.notification as { value?: string }).value ?? m.notification.kind]);
  });
  return frames;
}

/** The same, as a connection script reads them. */
function scriptFrames(marbles: string): Array<[number, string]> {
  return parseScript(marbles, (c) => c === 'a' || c === 'b', 'scriptParity').map((e) => [e.frame, e.key]);
}

describe('parseScript', () => {
  it.each(['-o-a-(ab) 5ms b', 'o 10ms a', 'o 1.5ms a', '(ob) a', 'o-a 2s b', ' o a', 'o  10ms  a', '(o a)'])(
    'should place the events of %j on the frames rxjs run mode gives them',
    (marbles) => {
      expect(scriptFrames(marbles)).toEqual(rxjsFrames(marbles));
    },
  );
});
