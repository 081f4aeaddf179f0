"""The model-API gateway: sans-IO cores (SSE codec, masking, stream restore, vault) and, later, the proxy.

- :mod:`.sse` — incremental server-sent-events decoder and byte-faithful encoder;
- :mod:`.vault` — reversible masking vault (placeholder ⇄ value per session; memory, SQLite, PostgreSQL);
- :mod:`.store` — where the shared state lives (the vault, tokens, budget) and opening it;
- :mod:`.mask` — masks, redacts or blocks what the policy names in an Anthropic Messages request body;
- :mod:`.restore` — restores placeholders in a streamed (SSE) or whole Messages response.

``docs/gateway.md`` describes the design.
"""
