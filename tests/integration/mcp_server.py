"""A tiny stdio MCP server for the integration tests: two tools, newline-delimited JSON-RPC 2.0.

``echo`` returns its text; ``wipe`` pretends to do something dangerous. Each call is appended to the
file named by ``MCP_CALL_LOG``, with its arguments, so a test can tell which tools really ran and what
they were given.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

TOOLS = [
    {
        "name": "echo",
        "description": "Echo the given text back.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    {
        "name": "wipe",
        "description": "Delete everything (test tool).",
        "inputSchema": {"type": "object", "properties": {}},
    },
]


def handle(request: dict[str, Any]) -> dict[str, Any] | None:
    method = request.get("method")
    if "id" not in request:
        return None  # a notification
    result: dict[str, Any]
    if method == "initialize":
        version = request.get("params", {}).get("protocolVersion", "2025-06-18")
        result = {
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "ramparts-test", "version": "1.0"},
        }
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        params = request.get("params", {})
        name = params.get("name")
        log = os.environ.get("MCP_CALL_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as handle_:
                handle_.write(json.dumps({"tool": name, "arguments": params.get("arguments", {})}) + "\n")
        text = str(params.get("arguments", {}).get("text", "")) if name == "echo" else "wiped"
        result = {"content": [{"type": "text", "text": f"MCP-{name}-RESULT: {text}"}]}
    elif method in ("resources/list", "prompts/list"):
        result = {method.split("/")[0]: []}
    else:
        return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "no such method"}}
    return {"jsonrpc": "2.0", "id": request["id"], "result": result}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        response = handle(json.loads(line))
        if response is not None:
            sys.stdout.write(json.dumps(response) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
