"""Shared code: file formats, video I/O, alignment maths, the plugin registry."""
