from tests.notifications.conftest import idle_receiver, receiver

__all__ = ["idle_receiver", "receiver"]
