"""The worker: runs use cases in the background, as the web and the CLI run them on request.

Beside ``civicstat.web`` and ``civicstat.cli`` it is a driver: it calls the services and is
called by no one below it. ``civicstat worker`` runs it alone; ``civicstat serve`` runs it
inside the web app's process unless told not to.
"""
