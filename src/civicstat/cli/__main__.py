"""``python -m civicstat.cli``: the ``civicstat`` command, for tests and for hosts without
the installed script."""

from civicstat.cli import main

if __name__ == "__main__":
    main()
