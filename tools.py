#!/usr/bin/env python3
"""faceswap tools: fix alignments, cut video, sort faces, preview settings, look after models, enhance faces, measure."""
import sys

from lib.cli import main

TOOLS = {
    "alignments": "scripts.tools.alignments",
    "effmpeg": "scripts.tools.effmpeg",
    "sort": "scripts.tools.sort",
    "preview": "scripts.tools.preview",
    "model": "scripts.tools.model",
    "mask": "scripts.tools.mask",
    "enhance": "scripts.tools.enhance",
    "evaluate": "scripts.tools.evaluate",
    "bench": "scripts.tools.bench",
}

if __name__ == "__main__":
    sys.exit(main("tools.py", __doc__, TOOLS))
