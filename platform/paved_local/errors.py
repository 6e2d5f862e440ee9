"""What can go wrong bringing up the local platform, each with a message that says what to do."""


class LocalPlatformError(Exception):
    """The local platform could not do what was asked; the message tells the user what to do."""


class PrerequisiteMissingError(LocalPlatformError):
    """A tool the platform needs is not installed."""


class PortInUseError(LocalPlatformError):
    """A port the platform must bind is held by another process."""


class ComponentFailedError(LocalPlatformError):
    """A component exited or did not become ready in time."""
