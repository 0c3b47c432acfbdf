export {
  type EnsurePartitionsOptions,
  type EnsurePartitionsReport,
  ensurePartitions,
  existingPartitions,
  monthStart,
  partitionName,
  type Queryable,
} from "./ensure";
