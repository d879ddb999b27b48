"""One module per REST resource, each with a sync and an async class."""
