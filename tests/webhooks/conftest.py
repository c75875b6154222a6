import pytest

from tests.kpis.conftest import real_broker  # noqa: F401 (a fixture: Celery publishing to the real Redis)
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def fast_retries(settings):
    """The retry schedule compressed 10,000 times: 5 s → 0.5 ms, 5 h → 1.8 s."""
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETRY_SCALE": 0.0001}
