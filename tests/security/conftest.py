"""The security suite attacks the same real broker the API tests use."""

from tests.broker.app.conftest import (  # noqa: F401  (fixtures shared with the API tests)
    app,
    auth,
    broker_config,
    client,
    loaded_store,
    settings,
    store_url,
)
