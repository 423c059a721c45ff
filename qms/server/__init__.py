"""The live server: HTTP API, websocket stream, people and devices."""
