"""The portal's help pages: their titles and the links to them (the pages' text is in their templates)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "help_clerk_title": {"zh": "填报帮助", "en": "Help for clerks"},
    "help_staff_title": {"zh": "使用帮助", "en": "Help for staff"},
    "help_clerk_link": {"zh": "填报帮助", "en": "Help for clerks"},
    "help_staff_link": {"zh": "使用帮助", "en": "Help"},
    "help_nav": {"zh": "帮助", "en": "Help"},
}
