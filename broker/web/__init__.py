"""Server-rendered pages of the broker: the public data catalog and the citizens' page."""

from broker.web.routes import router

__all__ = ["router"]
