"""Signed webhooks to the operator's own systems (CRM, billing): outbox rows, job delivery."""
