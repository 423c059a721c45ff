"""The live stream hub: what every browser app that follows a site stands on.

- `hub`: the websocket endpoint (admission, hello, live events, going away).
- `feed`: one site's frames, shared by the connections of one audience.
- `audience`: who sees which event, one table for the three audiences.
- `wire`: the frames and close codes of docs/protocol.md.
- `connection`, `heartbeat`: one client's bounded queue; pings, the silent and the slow.

What a display shows and says is the display app's (`qms.display`). The package
imports none of its parts: the display app's modules use `facts` and `shapes`
without pulling in the hub.
"""
