"""Extract loading, validation against the data contract, and quarantine."""

from leadeval.extracts.core import Extracts, canonical_frame
from leadeval.extracts.loading import load_extracts, quarantine_messages, write_quarantine
from leadeval.extracts.readers import check_sources
from leadeval.extracts.schemas import SCHEMAS, Column, Schema
from leadeval.extracts.validation import REASONS

__all__ = [
    "REASONS",
    "SCHEMAS",
    "Column",
    "Extracts",
    "Schema",
    "canonical_frame",
    "check_sources",
    "load_extracts",
    "quarantine_messages",
    "write_quarantine",
]
