import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Spreads partitions over the members as evenly as round-robin does, except that the partitions of
 * each pending plan (`together`: a batch planned over several partitions, stored or not, whose
 * commit never came) go to one member: only a process holding all of them can re-form that batch
 * under its token (batcher.ts). Pure and deterministic: every input order gives the same answer.
 */
export function assignPartitions(
  memberIds: readonly string[],
  partitions: readonly number[],
  together: readonly (readonly number[])[],
): Map<string, number[]> {
  const members = [...memberIds].sort();
  const assignment = new Map(members.map((m) => [m, [] as number[]]));
  if (members.length === 0) return assignment;

  const root = new Map(partitions.map((p) => [p, p]));
  const find = (p: number): number => {
    const parent = root.get(p) as number;
    if (parent === p) return p;
    const top = find(parent);
    root.set(p, top);
    return top;
  };
  for (const group of together) {
    const present = group.filter((p) => root.has(p));
    for (const p of present.slice(1)) {
      const [a, b] = [find(present[0] as number), find(p)];
      if (a !== b) root.set(Math.max(a, b), Math.min(a, b));
    }
  }
  const groups = new Map<number, number[]>();
  for (const p of [...partitions].sort((a, b) => a - b)) {
    const top = find(p);
    groups.set(top, [...(groups.get(top) ?? []), p]);
  }

  // Largest groups first, each to the member holding fewest partitions (first in order on a tie):
  // with no plans pending that is round-robin.
  const ordered = [...groups.values()].sort(
    (a, b) => b.length - a.length || (a[0] as number) - (b[0] as number),
  );
  for (const group of ordered) {
    let target = members[0] as string;
    for (const m of members) {
      if ((assignment.get(m) as number[]).length < (assignment.get(target) as number[]).length) target = m;
    }
    (assignment.get(target) as number[]).push(...group);
  }
  for (const owned of assignment.values()) owned.sort((a, b) => a - b);
  return assignment;
}

/**
 * The group's assigner (run by the group leader at every rebalance). `pendingPlans` reads the
 * group's committed offsets for a topic and returns the partitions of each multi-partition plan;
 * it is read after the new generation formed, when members of the old one can no longer commit.
 */
export function planAwareAssigner(pendingPlans: (topic: string) => Promise<number[][]>): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'TidemarkPlanAwareAssigner',
    version: 0,
    async assign({ members, topics }) {
      const perMember = new Map<string, Record<string, number[]>>(members.map((m) => [m.memberId, {}]));
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
        const assigned = assignPartitions(
          members.map((m) => m.memberId),
          partitions,
          await pendingPlans(topic),
        );
        for (const [memberId, owned] of assigned) {
          if (owned.length > 0) (perMember.get(memberId) as Record<string, number[]>)[topic] = owned;
        }
      }
      return [...perMember].map(([memberId, assignment]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment,
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: 'TidemarkPlanAwareAssigner',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}
