#!/usr/bin/env python3
"""faceswap: swap one person's face for another's in videos and photos."""
import sys

from lib.cli import main

COMMANDS = {
    "extract": "scripts.extract",
    "train": "scripts.train",
    "convert": "scripts.convert",
    "swap": "scripts.swap",
    "serve": "scripts.serve",
    "worker": "scripts.worker",
    "client": "scripts.client",
    "gui": "scripts.gui",
}

if __name__ == "__main__":
    sys.exit(main("faceswap.py", __doc__, COMMANDS))
