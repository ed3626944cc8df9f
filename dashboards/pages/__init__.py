"""Dash pages, one module each: its layout and its callbacks, ids prefixed by page."""
