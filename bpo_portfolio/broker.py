"""The Redis transport of the Celery broker, with one defect of kombu 5.7.0 worked around.

When a worker loses its broker connection (Redis stopped, restarted, failed over) while it holds an
unacknowledged message — any task in progress, with late acknowledgement — kombu first collects the
connection (which detaches the transport from it) and then closes it again; the second close tries
to put the unacknowledged message back over the detached transport and raises AttributeError
(`'NoneType' object has no attribute 'hostname'`). That is not one of the connection errors Celery
expects there, so the worker stops with "Unrecoverable error" instead of reconnecting.

Here a channel whose transport is already detached reports a connection error instead, which Celery
ignores while it reconnects. The message is not lost: Redis keeps it among the unacknowledged ones
and hands it out again after the visibility timeout (and the tasks are idempotent).
`tests/ops/test_redis_outage.py` stops and restarts Redis under a busy worker and fails without this.
"""

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was already closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


def use_resilient_redis_transport() -> None:
    """Make `redis://` broker URLs use this transport (kombu resolves URL schemes by this table)."""
    TRANSPORT_ALIASES["redis"] = f"{__name__}:Transport"
