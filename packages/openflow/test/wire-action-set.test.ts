import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Action, EMPTY_ACTION_SET, type Instruction, actionSetKey, actionSetToList, updateActionSet, writeActions,
} from '@morgana/openflow';
import { actionArb } from './arbitraries.js';

/** The execution order of 1.3.x §5.10, written out as the specification lists it. */
const SPEC_ORDER: readonly (readonly Action['type'][])[] = [
  ['copy-ttl-in'], ['pop-vlan', 'pop-mpls', 'pop-pbb'], ['push-mpls'], ['push-pbb'], ['push-vlan'], ['copy-ttl-out'],
  ['dec-mpls-ttl', 'dec-nw-ttl'], ['set-field', 'set-field-oxm', 'set-mpls-ttl', 'set-nw-ttl'], ['experimenter'], ['set-queue'], ['group'],
  ['output', 'enqueue'],
];
const step = (action: Action): number => SPEC_ORDER.findIndex((types) => types.includes(action.type));
const actions = fc.array(actionArb(4), { maxLength: 12 });

describe('OpenFlow 1.3 action set (1.3.x §5.10)', () => {
  it('keeps one action per type, one set-field per field, the last one written winning', () => {
    fc.assert(fc.property(actions, actions, (first, second) => {
      const set = writeActions(writeActions(EMPTY_ACTION_SET, first), second);
      const expected = new Map<string, Action>();
      for (const action of [...first, ...second]) expected.set(actionSetKey(action), action);
      expect(set.size).toBe(expected.size);
      for (const [key, action] of expected) expect(set.get(key)).toBe(action);
    }), { numRuns: 300 });
  });

  it('executes in the specification order, dropping output when a group is present', () => {
    fc.assert(fc.property(actions, (written) => {
      const set = writeActions(EMPTY_ACTION_SET, written);
      const list = actionSetToList(set);
      for (let index = 1; index < list.length; index += 1) expect(step(list[index - 1] as Action)).toBeLessThanOrEqual(step(list[index] as Action));
      const hasGroup = [...set.values()].some((action) => action.type === 'group');
      const kept = [...set.values()].filter((action) => !(hasGroup && (action.type === 'output' || action.type === 'enqueue')));
      expect(list.length).toBe(kept.length);
      expect(new Set(list)).toEqual(new Set(kept));
    }), { numRuns: 300 });
  });

  it('orders a full set as §5.10 lists it', () => {
    const written: Action[] = [
      { type: 'output', port: 2, maxLen: 0 }, { type: 'set-queue', queueId: 1 }, { type: 'set-field', field: 'ethDst', value: 2 },
      { type: 'dec-nw-ttl' }, { type: 'copy-ttl-out' }, { type: 'push-vlan', ethertype: 0x8100 }, { type: 'push-pbb', ethertype: 0x88e7 },
      { type: 'push-mpls', ethertype: 0x8847 }, { type: 'pop-vlan' }, { type: 'copy-ttl-in' },
    ];
    expect(actionSetToList(writeActions(EMPTY_ACTION_SET, written)).map((action) => action.type)).toEqual([
      'copy-ttl-in', 'pop-vlan', 'push-mpls', 'push-pbb', 'push-vlan', 'copy-ttl-out', 'dec-nw-ttl', 'set-field', 'set-queue', 'output',
    ]);
    const withGroup = writeActions(EMPTY_ACTION_SET, [...written, { type: 'group', groupId: 3 }]);
    expect(actionSetToList(withGroup).slice(-2)).toEqual([{ type: 'set-queue', queueId: 1 }, { type: 'group', groupId: 3 }]);
  });

  it('replaces an output and keeps two set-fields of different fields', () => {
    const set = writeActions(EMPTY_ACTION_SET, [
      { type: 'output', port: 1, maxLen: 0 }, { type: 'set-field', field: 'ethDst', value: 1 },
      { type: 'set-field', field: 'ethSrc', value: 2 }, { type: 'output', port: 3, maxLen: 0 }, { type: 'set-field', field: 'ethDst', value: 4 },
    ]);
    expect(actionSetToList(set)).toEqual([
      { type: 'set-field', field: 'ethDst', value: 4 }, { type: 'set-field', field: 'ethSrc', value: 2 }, { type: 'output', port: 3, maxLen: 0 },
    ]);
  });

  it('applies Clear-Actions before Write-Actions whatever their order in the instruction list (1.3.x §5.9)', () => {
    const instructions = fc.array(fc.oneof(
      fc.constant({ type: 'clear-actions' as const }),
      actions.map((list): Instruction => ({ type: 'write-actions', actions: list })),
      fc.record({ type: fc.constant('goto-table' as const), tableId: fc.integer({ min: 0, max: 254 }) }),
    ), { maxLength: 4 });
    fc.assert(fc.property(actions, instructions, (before, list) => {
      const start = writeActions(EMPTY_ACTION_SET, before);
      const writes = list.flatMap((instruction) => (instruction.type === 'write-actions' ? instruction.actions : []));
      const cleared = list.some((instruction) => instruction.type === 'clear-actions');
      const expected = writeActions(cleared ? EMPTY_ACTION_SET : start, writes);
      expect([...updateActionSet(start, list).entries()]).toEqual([...expected.entries()]);
    }), { numRuns: 300 });
  });

  it('never changes the set it is given', () => {
    const start = writeActions(EMPTY_ACTION_SET, [{ type: 'output', port: 1, maxLen: 0 }]);
    writeActions(start, [{ type: 'output', port: 2, maxLen: 0 }]);
    updateActionSet(start, [{ type: 'clear-actions' }]);
    expect([...start.values()]).toEqual([{ type: 'output', port: 1, maxLen: 0 }]);
    expect(EMPTY_ACTION_SET.size).toBe(0);
  });
});
