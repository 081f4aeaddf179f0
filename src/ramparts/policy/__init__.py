"""Policy: the file format, Claude Code rule syntax and matching, profiles, lint and compilation."""
