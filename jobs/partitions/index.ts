export {
  type EnsurePartitionsOptions,
  type EnsurePartitionsReport,
  ensurePartitions,
  existingPartitions,
  isTransientPgCode,
  monthFromParts,
  monthStart,
  type PartitionFailure,
  partitionName,
  type Queryable,
} from "./ensure";
