"""The audit log's rows (audit.log appends them)."""
