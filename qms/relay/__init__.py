"""One writer per site (docs/architecture.md): `site.SiteRelay` and `relaying`, the one way
relays start; `messages`, what the processes say to each other."""

from qms.relay.site import SiteRelay, relaying

__all__ = ["SiteRelay", "relaying"]
