"""Extract loading, validation against the data contract, and quarantine."""

from leadeval.extracts.core import Extracts, canonical_frame
from leadeval.extracts.schemas import SCHEMAS, Column, Schema

__all__ = ["SCHEMAS", "Column", "Extracts", "Schema", "canonical_frame"]
