"""Landmark mask 'extended': components plus the forehead above the brows (see lib/masks.py)."""
from lib.masks import extended
from lib.registry import register

register("extract.mask", "extended")(extended)
