"""Shared utilities with no knowledge of the layers above: array namespaces,
the memo, worker threads, output casts."""
