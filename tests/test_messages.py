"""The message catalog: every entry in both languages, with the same parameters."""

from __future__ import annotations

import re

import pytest

from xltemplate.messages import CATALOG, LANGS, message, t

PARAM = re.compile(r"\{([a-z_]+)\}")


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_entry_has_both_languages_and_the_same_parameters(key: str) -> None:
    entry = CATALOG[key]
    assert set(entry) == set(LANGS), key
    assert all(entry[lang].strip() for lang in LANGS)
    assert set(PARAM.findall(entry["zh"])) == set(PARAM.findall(entry["en"])), key


def test_parameters_are_filled_in_and_english_is_chosen() -> None:
    assert "预算.xlsx" in t("io", "zh", detail="预算.xlsx")
    assert t("io", "en", detail="x").startswith("Cannot open")


def test_an_unknown_key_is_a_bug_but_an_unknown_file_code_reads_as_unexpected() -> None:
    with pytest.raises(KeyError):
        t("no-such-key")
    assert message("no-such-code", "zh") == t("unexpected", "zh")


def test_a_parameter_not_given_is_refused_never_shown_to_a_user() -> None:
    with pytest.raises(KeyError, match="id"):
        t("no_such_return", "zh")
    assert "{" not in t("no_such_return", "zh", id=7)
    # a value is put in as it is, never read again as a parameter
    assert t("no_such_return", "en", id="{id}") == "There is no return with id {id}"
    # detail is the one parameter said only when there is something to say
    assert "{detail}" not in t("io", "zh")
