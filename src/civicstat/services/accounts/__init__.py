"""Accounts: users, signing in, browser sessions and API tokens."""
