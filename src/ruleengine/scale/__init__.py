"""Many orders at once: JSON-lines batches in constant memory, over processes or a Dask cluster."""
