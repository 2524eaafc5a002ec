"""The tamper-evident audit log: security-relevant actions as append-only rows chained by hash."""
