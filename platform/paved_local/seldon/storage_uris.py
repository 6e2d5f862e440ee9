"""Which storage URIs a storage initializer can fetch: the rule the data plane (which fetches
models itself on the embedded platform) and the Seldon stand-in (whose init container fetches
them on a cluster) both apply before anything is downloaded.

A URI no storage initializer can fetch is refused with the reason a real deployment would fail
with: KServe's webhook accepts only these schemes, and Seldon's init container exits on any
other. A `models:/` URI names a registry version, not a location: the registry resolves it
(paved's routers write what it resolves to), the serving platform never does.
"""

from __future__ import annotations

from typing import Final

# KServe's supported storage URI prefixes (its InferenceService validation), as the storage
# initializer fetches them.
FETCHABLE: Final = (
    "gs://",
    "s3://",
    "pvc://",
    "file://",
    "https://",
    "http://",
    "hdfs://",
    "webhdfs://",
    "hf://",
    "oci://",
)


def refusal(uri: str) -> str | None:
    """Why a storage initializer cannot fetch `uri`, or None when it can."""
    if uri.startswith(FETCHABLE):
        return None
    scheme = uri.split("://", 1)[0] + "://" if "://" in uri else uri.split(":", 1)[0] + ":"
    hint = (
        " (a registry URI: serve the storage URI the registry resolves it to)"
        if uri.startswith("models:/")
        else ""
    )
    return (
        f"storage URI {uri!r} cannot be fetched by a storage initializer: {scheme} is not "
        f"one of {', '.join(FETCHABLE)}{hint}"
    )
