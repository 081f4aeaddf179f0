"""Shell analysis: which commands a shell string runs and which files it touches.

This is the interim analyser (shlex-based): it splits lists and pipelines honestly and marks
everything it cannot see through as opaque, so the engine never allows what it did not read.
"""

from .analyze import Analysis, analyze

__all__ = ["Analysis", "analyze"]
