"""Command-line plumbing the example scripts share: as for the C++ tools, bad arguments and bad
input end in ONE line "<tool>: <message>" on stderr and exit status 2."""

import argparse
import sys


def fail(tool, message):
    """Prints "<tool>: <message>" on stderr and exits with status 2."""
    print(f"{tool}: {message}", file=sys.stderr)
    sys.exit(2)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, "<prog>: <message>", and exit status 2
    (argparse prints the usage first)."""

    def error(self, message):
        fail(self.prog, message)
