"""Use cases: the only door for the web app, the JSON API and the CLI.

Each public function takes the acting ``Actor`` first, checks a named permission through
``civicstat.governance.permissions`` and records audit events where the action calls for it.
"""
