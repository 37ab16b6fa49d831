"""What a run records and draws: the record and plots sections."""
from __future__ import annotations

from typing import Literal, Optional, Union, get_args

from pydantic import Field, field_validator

from .base import Strict

PlotName = Literal["raster", "rates", "membrane", "rate_hist", "isi", "learning",
                   "time_accuracy", "weights", "angles", "adaptation"]


class RecordConfig(Strict):
    """What to record at the end of chosen epochs (spikelocal.analysis.recording)."""

    samples: int = Field(100, ge=0, description="test samples recorded; 0 turns recording off")
    epochs: Union[Literal["last", "all"], list[int]] = Field("last", description="1-based epochs")
    layers: Optional[list[int]] = Field(None, description="1-based layer numbers; default: every spiking layer")
    variables: list[Literal["spikes", "membrane", "current", "adaptation"]] = Field(
        ["spikes", "membrane", "current", "adaptation"],
        description="traces to keep; adaptation exists for ALIF layers only (others skip it)")


class PlotsConfig(Strict):
    """Figures written into RUN/plots when the run ends (spikelocal.analysis.plots)."""

    what: list[str] = Field(default_factory=list, description="plot names or 'all'; empty: no plots")
    format: list[Literal["png", "svg", "pdf"]] = ["png"]
    report: bool = Field(False, description="also write RUN/report.html")

    @field_validator("what")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        known = (*get_args(PlotName), "all")
        for name in names:
            if name not in known:
                raise ValueError(f"unknown plot {name!r}; known: {', '.join(known)}")
        return names
