"""How the demo stops."""


class DemoError(Exception):
    """The story could not go on; the message says where and why."""
