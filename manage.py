#!/usr/bin/env python
import os
import sys

# Commands that only ever run the product on this machine, for a try-out: development mode
# (DEBUG=1) unless the environment says otherwise. Every other command, the web server and the
# worker follow the settings' default, production mode (see webapp.env.debug_mode).
DEVELOPMENT_COMMANDS = {"demo"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    if sys.argv[1:2] and sys.argv[1] in DEVELOPMENT_COMMANDS:
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
