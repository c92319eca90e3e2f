"""Server-rendered pages of the broker: the public data catalog, the citizens' page and the
leaders' indicator page."""

from broker.web.citizen import router as citizen_router
from broker.web.indicator_pages import router as _indicator_pages
from broker.web.routes import router

router.include_router(citizen_router)
router.include_router(_indicator_pages)

__all__ = ["router"]
