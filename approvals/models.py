"""Approval requests and their decisions (approvals.services)."""
