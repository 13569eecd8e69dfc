/**
 * The OpenFlow 1.3 action set (1.3.x §5.10): what WRITE_ACTIONS and CLEAR_ACTIONS build up
 * while a packet crosses the pipeline, and the fixed order it is executed in at the end.
 * Pure functions over {@link Action} lists, for a switch to use.
 */
import type { Action, Instruction } from './actions.js';
import type { RawOxm } from './match.js';

/** An action set: at most one action per {@link actionSetKey}, in no particular order. */
export type ActionSet = ReadonlyMap<string, Action>;

/** The empty action set every packet starts with (1.3.x §5.10). */
export const EMPTY_ACTION_SET: ActionSet = new Map();

function oxmKey(oxm: RawOxm): string {
  return `set-field:${oxm.oxmClass}:${oxm.field}`;
}

/**
 * The slot an action takes in an action set: one per action type, except set-field, which
 * takes one per field type ("at most one action of each type ... set-field actions are
 * identified by their field types", 1.3.x §5.10). Experimenter actions take one per
 * experimenter id.
 */
export function actionSetKey(action: Action): string {
  switch (action.type) {
    case 'set-field': return `set-field:${action.field}`;
    case 'set-field-oxm': return oxmKey(action.oxm);
    case 'experimenter': return `experimenter:${action.experimenter}`;
    // 1.0's enqueue is output to a queue: it shares output's slot.
    case 'enqueue': return 'output';
    default: return action.type;
  }
}

/** WRITE_ACTIONS: merges `actions` into `set`; an action replaces the one in its slot (1.3.x §5.10). */
export function writeActions(set: ActionSet, actions: readonly Action[]): ActionSet {
  const next = new Map(set);
  for (const action of actions) next.set(actionSetKey(action), action);
  return next;
}

/**
 * Applies one table's instructions to `set` in the order the specification executes them
 * (1.3.x §5.9: Clear-Actions before Write-Actions), whatever order they were listed in.
 */
export function updateActionSet(set: ActionSet, instructions: readonly Instruction[]): ActionSet {
  let next = set;
  if (instructions.some((instruction) => instruction.type === 'clear-actions')) next = EMPTY_ACTION_SET;
  for (const instruction of instructions) {
    if (instruction.type === 'write-actions') next = writeActions(next, instruction.actions);
  }
  return next;
}

/** Execution rank of each action type (1.3.x §5.10's numbered list). */
function rank(action: Action): number {
  switch (action.type) {
    case 'copy-ttl-in': return 1;
    case 'pop-vlan': case 'pop-mpls': case 'pop-pbb': return 2;
    case 'push-mpls': return 3;
    case 'push-pbb': return 4;
    case 'push-vlan': return 5;
    case 'copy-ttl-out': return 6;
    case 'dec-mpls-ttl': case 'dec-nw-ttl': return 7;
    // "set: apply all set-field actions"; 1.3 also keeps set-mpls-ttl and set-nw-ttl as sets.
    case 'set-field': case 'set-field-oxm': case 'set-mpls-ttl': case 'set-nw-ttl': return 8;
    // The specification leaves experimenter actions to the experimenter; morgana runs them
    // after the standard rewrites and before QoS and forwarding.
    case 'experimenter': return 8.5;
    case 'set-queue': return 9;
    case 'group': return 10;
    case 'output': case 'enqueue': return 11;
  }
}

/**
 * The action list an action set executes as (1.3.x §5.10): copy TTL in, pops, push MPLS, push
 * PBB, push VLAN, copy TTL out, TTL decrements, sets, set-queue, group, then output. An output
 * is dropped when a group is present ("the group action takes precedence"). Actions of one
 * rank keep the order they were written in.
 */
export function actionSetToList(set: ActionSet): Action[] {
  const hasGroup = set.has('group');
  const actions = [...set.values()].filter((action) => !(hasGroup && rank(action) === 11));
  // Array.prototype.sort is stable, so equal ranks keep insertion (write) order.
  return actions.sort((a, b) => rank(a) - rank(b));
}
