"""Landmark mask 'components': the face from jaw line to brows (see lib/masks.py)."""
from lib.masks import components
from lib.registry import register

register("extract.mask", "components")(components)
