"""Rightful: copyright integrity for generative AI."""

from rightful._version import __version__

__all__ = ["__version__"]
