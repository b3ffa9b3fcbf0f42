"""Connectors pull raw payloads from source systems; each registers as an entry point."""
