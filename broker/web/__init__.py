"""Server-rendered pages of the broker: the public data catalog and the citizens' page."""

from broker.web.citizen import router as citizen_router
from broker.web.routes import router

router.include_router(citizen_router)

__all__ = ["router"]
