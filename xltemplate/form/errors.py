"""The form's own errors, below every module that raises them."""

from __future__ import annotations


class LayoutError(ValueError):
    """The layout cannot be placed or does not match the schema."""
