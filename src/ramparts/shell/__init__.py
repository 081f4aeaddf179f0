"""Shell analysis: which commands a shell string runs and which files it touches.

``split`` parses with the bash grammar (tree-sitter-bash); ``analyze`` unwraps wrappers and applies
the reader/writer tables. Whatever cannot be known before the command runs is reported as opaque,
so the engine never allows what it did not read.
"""

from .analyze import Analysis, analyze

__all__ = ["Analysis", "analyze"]
