/**
 * The switch side's group table (OpenFlow 1.3.x §5.6): ALL, SELECT, INDIRECT and
 * FAST_FAILOVER groups, bucket liveness through watch ports and groups, and counters.
 */
import type { Action } from './actions.js';
import {
  OFPG_ANY, OFPG_MAX, OFPGMFC_BAD_BUCKET, OFPGMFC_BAD_TYPE, OFPGMFC_BAD_WATCH, OFPGMFC_GROUP_EXISTS, OFPGMFC_INVALID_GROUP, OFPGMFC_LOOP,
  OFPGMFC_OUT_OF_BUCKETS, OFPGMFC_OUT_OF_GROUPS, OFPGMFC_UNKNOWN_GROUP, OFPGT_ALL, OFPGT_FF, OFPGT_INDIRECT, OFPGT_SELECT, OFPP_ANY,
} from './constants.js';

/** One bucket of a group (ofp_bucket, 1.3.x §7.3.4.2). */
export interface GroupBucket {
  /** Relative share of traffic in a SELECT group. */
  readonly weight: number;
  /** Port / group whose liveness decides the bucket's (FAST_FAILOVER); OFPP_ANY / OFPG_ANY for none. */
  readonly watchPort: number;
  readonly watchGroup: number;
  readonly actions: readonly Action[];
}

export interface GroupEntry {
  readonly groupId: number;
  readonly type: number;
  buckets: readonly GroupBucket[];
  packetCount: bigint;
  byteCount: bigint;
  /** Packets and bytes per bucket, in bucket order. */
  bucketCounts: { packets: bigint; bytes: bigint }[];
  readonly installedAt: number;
}

/** ofp_group_mod_failed_code values the table returns (1.3.x §7.4.4). */
export const OFPGMFC = {
  GROUP_EXISTS: OFPGMFC_GROUP_EXISTS, INVALID_GROUP: OFPGMFC_INVALID_GROUP, OUT_OF_GROUPS: OFPGMFC_OUT_OF_GROUPS, OUT_OF_BUCKETS: OFPGMFC_OUT_OF_BUCKETS,
  LOOP: OFPGMFC_LOOP, UNKNOWN_GROUP: OFPGMFC_UNKNOWN_GROUP, BAD_TYPE: OFPGMFC_BAD_TYPE, BAD_BUCKET: OFPGMFC_BAD_BUCKET, BAD_WATCH: OFPGMFC_BAD_WATCH,
} as const;

export interface GroupTableConfig {
  /** Groups held; an ADD beyond it fails with OFPGMFC_OUT_OF_GROUPS; default 256. */
  readonly maxGroups?: number;
  /** Buckets per group; more fail with OFPGMFC_OUT_OF_BUCKETS; default 32. */
  readonly maxBuckets?: number;
  /** Group chaining depth followed when executing and checking liveness; default 8. */
  readonly maxChainDepth?: number;
}

export const GROUP_TABLE_DEFAULTS: Required<GroupTableConfig> = { maxGroups: 256, maxBuckets: 32, maxChainDepth: 8 };

/** Groups by number with the checks of group-mod (1.3.x §6.5). */
export class GroupTable {
  private readonly groups = new Map<number, GroupEntry>();
  private readonly limits: Required<GroupTableConfig>;

  constructor(config: GroupTableConfig = {}) {
    this.limits = { ...GROUP_TABLE_DEFAULTS, ...config };
  }

  get size(): number {
    return this.groups.size;
  }

  get maxChainDepth(): number {
    return this.limits.maxChainDepth;
  }

  get(groupId: number): GroupEntry | undefined {
    return this.groups.get(groupId);
  }

  all(): GroupEntry[] {
    return [...this.groups.values()].sort((a, b) => a.groupId - b.groupId);
  }

  /** Why a group of this type and buckets cannot be installed, or undefined when it can. */
  private check(groupId: number, type: number, buckets: readonly GroupBucket[]): number | undefined {
    if (groupId > OFPG_MAX) return OFPGMFC.INVALID_GROUP;
    if (type !== OFPGT_ALL && type !== OFPGT_SELECT && type !== OFPGT_INDIRECT && type !== OFPGT_FF) return OFPGMFC.BAD_TYPE;
    if (buckets.length > this.limits.maxBuckets) return OFPGMFC.OUT_OF_BUCKETS;
    // An indirect group has exactly one bucket (1.3.x §5.6.1).
    if (type === OFPGT_INDIRECT && buckets.length !== 1) return OFPGMFC.BAD_BUCKET;
    for (const bucket of buckets) {
      if (type === OFPGT_FF && bucket.watchPort === OFPP_ANY && bucket.watchGroup === OFPG_ANY) return OFPGMFC.BAD_WATCH;
      for (const action of bucket.actions) {
        if (action.type !== 'group') continue;
        if (!this.groups.has(action.groupId)) return OFPGMFC.UNKNOWN_GROUP;
        if (action.groupId === groupId || this.reaches(action.groupId, groupId, 0)) return OFPGMFC.LOOP;
      }
    }
    return undefined;
  }

  /** Whether executing `from` can reach `target` through group actions. */
  private reaches(from: number, target: number, depth: number): boolean {
    if (depth > this.limits.maxChainDepth) return true;
    const group = this.groups.get(from);
    if (group === undefined) return false;
    return group.buckets.some((bucket) => bucket.actions.some((action) => action.type === 'group' && (action.groupId === target || this.reaches(action.groupId, target, depth + 1))));
  }

  /** OFPGC_ADD: undefined on success, else an OFPGMFC code. */
  add(groupId: number, type: number, buckets: readonly GroupBucket[], now: number): number | undefined {
    if (this.groups.has(groupId)) return OFPGMFC.GROUP_EXISTS;
    if (this.groups.size >= this.limits.maxGroups) return OFPGMFC.OUT_OF_GROUPS;
    const problem = this.check(groupId, type, buckets);
    if (problem !== undefined) return problem;
    this.groups.set(groupId, { groupId, type, buckets, packetCount: 0n, byteCount: 0n, bucketCounts: buckets.map(() => ({ packets: 0n, bytes: 0n })), installedAt: now });
    return undefined;
  }

  /** OFPGC_MODIFY: replaces type and buckets, keeping the group's counters (bucket counters restart). */
  modify(groupId: number, type: number, buckets: readonly GroupBucket[]): number | undefined {
    const existing = this.groups.get(groupId);
    if (existing === undefined) return OFPGMFC.UNKNOWN_GROUP;
    const problem = this.check(groupId, type, buckets);
    if (problem !== undefined) return problem;
    this.groups.set(groupId, { ...existing, type, buckets, bucketCounts: buckets.map(() => ({ packets: 0n, bytes: 0n })) });
    return undefined;
  }

  /**
   * OFPGC_DELETE: removes the group (OFPG_ALL: every group) and, recursively, the groups that
   * chain to it; returns the removed numbers so the caller removes flows that use them (§6.5).
   */
  delete(groupId: number, all: boolean): number[] {
    const removed: number[] = [];
    if (all) {
      removed.push(...this.groups.keys());
      this.groups.clear();
      return removed;
    }
    const pending = [groupId];
    while (pending.length > 0) {
      const id = pending.pop() as number;
      if (!this.groups.delete(id)) continue;
      removed.push(id);
      for (const group of this.groups.values()) {
        if (group.buckets.some((bucket) => bucket.actions.some((action) => action.type === 'group' && action.groupId === id))) pending.push(group.groupId);
      }
    }
    return removed;
  }

  /**
   * Whether a bucket is live (1.3.x §6.5): its watch port is up and its watch group has a live
   * bucket; a bucket watching nothing is live.
   */
  bucketLive(bucket: GroupBucket, portLive: (port: number) => boolean, depth = 0): boolean {
    if (bucket.watchPort !== OFPP_ANY && !portLive(bucket.watchPort)) return false;
    if (bucket.watchGroup === OFPG_ANY) return true;
    const watched = this.groups.get(bucket.watchGroup);
    if (watched === undefined || depth >= this.limits.maxChainDepth) return false;
    return watched.buckets.some((inner) => this.bucketLive(inner, portLive, depth + 1));
  }

  /**
   * The buckets a packet goes through (1.3.x §5.6.1): every bucket of ALL; the first live one
   * of FAST_FAILOVER; the only one of INDIRECT; for SELECT one live bucket chosen by `hash`
   * weighted by the buckets' weights, so one flow keeps to one bucket.
   */
  select(group: GroupEntry, hash: number, portLive: (port: number) => boolean): number[] {
    switch (group.type) {
      case OFPGT_ALL: return group.buckets.map((_, index) => index);
      case OFPGT_INDIRECT: return group.buckets.length > 0 ? [0] : [];
      case OFPGT_FF: {
        const index = group.buckets.findIndex((bucket) => this.bucketLive(bucket, portLive));
        return index < 0 ? [] : [index];
      }
      default: {
        const live = group.buckets.map((bucket, index) => ({ bucket, index })).filter(({ bucket }) => bucket.weight > 0 && this.bucketLive(bucket, portLive));
        const total = live.reduce((sum, { bucket }) => sum + bucket.weight, 0);
        if (total === 0) return [];
        let point = (hash >>> 0) % total;
        for (const { bucket, index } of live) {
          if (point < bucket.weight) return [index];
          point -= bucket.weight;
        }
        return [];
      }
    }
  }
}
