"""Which predictions a batch or streaming prediction writes to the prediction log (ADR 0044):
the log a ModelMonitor reads, where the data plane logs the online ones."""

from __future__ import annotations

from pydantic import Field

from paved.api.meta import Model


class PredictionLogging(Model):
    rate: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="The share of predictions logged (0..1), chosen by each prediction's id "
        "(an entity of a run, an event), so a redone run or a redelivered event logs the same "
        "ones. 0: none. A monitor needs its minSamples a window.",
    )
