"""A small stdio MCP server written with the official SDK, for the `ramparts mcp wrap` tests.

The `search` tool's description is read from desc.txt beside the server at start, so a test can
change it between runs (a "rug pull").
"""

from __future__ import annotations

from pathlib import Path

from mcp.server.mcpserver import MCPServer

HERE = Path(__file__).resolve().parent
DESCRIPTION = (HERE / "desc.txt").read_text("utf-8") if (HERE / "desc.txt").exists() else "Search the docs."

server = MCPServer("docs")


@server.tool(description=DESCRIPTION)
def search(query: str) -> str:
    return f"3 pages match {query!r}: install.md, usage.md, faq.md"


@server.tool(description="Echo a text back.")
def echo(text: str) -> str:
    return text


@server.tool(description="Delete every document.")
def delete_all() -> str:
    return "deleted everything"


if __name__ == "__main__":
    server.run("stdio")
