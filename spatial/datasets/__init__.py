"""Dataset versions of the layers, and writing their rows.

- :mod:`~spatial.datasets.lifecycle`: a dataset's life (staging → active → superseded, or
  failed), publishing, restoring, listing, the locks, and every write to ``datasets``;
- :mod:`~spatial.datasets.loading`: COPYing a load's rows, and staging large loads over
  parallel sessions;
- :mod:`~spatial.datasets.pgcopy`: the binary COPY encoder (Arrow and numpy, no database);
- :mod:`~spatial.datasets.partitions`: the DDL of partitioned layers.

The names most callers use are re-exported here.
"""

from spatial.datasets.lifecycle import (
    LayerRef,
    active_with_sha,
    cleanup_staging,
    dataset_lock_key,
    get_dataset,
    hold_dataset,
    list_datasets,
    lock_layer,
    lock_layer_within,
    mark_failed,
    new_dataset,
    publish,
    record_written,
    release_dataset,
    remove_dataset,
    restore,
)
from spatial.datasets.loading import (
    BULK_MIN_ROWS,
    BULK_WORKERS,
    COPY_CHUNK_ROWS,
    bulk_load,
    copy_arrays,
    copy_rows,
)
from spatial.datasets.partitions import partition_name

__all__ = [
    "BULK_MIN_ROWS",
    "BULK_WORKERS",
    "COPY_CHUNK_ROWS",
    "LayerRef",
    "active_with_sha",
    "bulk_load",
    "cleanup_staging",
    "copy_arrays",
    "copy_rows",
    "dataset_lock_key",
    "get_dataset",
    "hold_dataset",
    "list_datasets",
    "lock_layer",
    "lock_layer_within",
    "mark_failed",
    "new_dataset",
    "partition_name",
    "publish",
    "record_written",
    "release_dataset",
    "remove_dataset",
    "restore",
]
