"""Governance: who may do what (permissions as data), passwords, and the audit log."""
