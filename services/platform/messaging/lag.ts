/**
 * Consumer lag as Kafka counts it: per consumer group, the messages of the topic past the
 * group's committed offsets (summed over partitions). Read with the admin client, bounded by a
 * timeout: an operator page must render while the broker is down, with the lag unknown.
 */
import type { Admin, Kafka } from 'kafkajs';

export interface GroupLag {
  group: string;
  /** Messages not yet consumed; null when Kafka did not answer. */
  lag: number | null;
  /** Partitions the group has committed nothing on yet (counted from the start). */
  uncommittedPartitions: number;
}

export interface LagReport {
  topic: string;
  groups: GroupLag[];
  problem: string | null;
}

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Kafka within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function groupLags(admin: Admin, topic: string, groups: readonly string[]): Promise<GroupLag[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const out: GroupLag[] = [];
  for (const group of groups) {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    let lag = 0;
    let uncommitted = 0;
    for (const end of ends) {
      const at = byPartition.get(end.partition) ?? -1;
      if (at < 0) uncommitted += 1;
      lag += Math.max(0, Number(end.high) - Math.max(at, Number(end.low)));
    }
    out.push({ group, lag, uncommittedPartitions: uncommitted });
  }
  return out;
}

/** The lag of each group on the topic; a Kafka that does not answer within `timeoutMs` gives lag null. */
export async function consumerLag(kafka: Kafka, topic: string, groups: readonly string[], timeoutMs = 3000): Promise<LagReport> {
  const admin = kafka.admin();
  try {
    await within(timeoutMs, admin.connect());
    return { topic, groups: await within(timeoutMs, groupLags(admin, topic, groups)), problem: null };
  } catch (err) {
    return { topic, groups: groups.map((group) => ({ group, lag: null, uncommittedPartitions: 0 })), problem: String(err) };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
