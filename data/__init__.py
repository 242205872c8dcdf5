"""Shipped data files (Tanzil Quran metadata and text), read with importlib.resources."""
