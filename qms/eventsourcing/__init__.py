"""The event-sourcing toolkit under both cores (the hall's `qms.core`, `qms.accounts`).

- `schema`: typed records from plain mappings and back, and their JSON schemas (the
  API's OpenAPI document), through one walker over field types.
- `records`: the registry of a core's event and command types, an event's wire form.
- `rejection`: a refused command, with its core's table of codes.
"""
