"""netjournal: a static-site generator for a reflective blog that is also a network journal."""

__version__ = "0.1.0"
