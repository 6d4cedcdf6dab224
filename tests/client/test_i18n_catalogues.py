"""The translation catalogues are complete: every string in the code is extracted, and the compiled
zh_CN and en catalogues translate all of them (scripts/i18n.sh keeps them so)."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "shared" / "web" / "translations"


def _key(message_id):
    return tuple(message_id) if isinstance(message_id, (list, tuple)) else message_id


def _ids(catalog):
    return {_key(m.id) for m in catalog if m.id}


def _translated(message) -> bool:
    return all(message.string) if isinstance(message.string, (list, tuple)) else bool(message.string)


@pytest.fixture(scope="module")
def template_ids():
    with open(TRANSLATIONS / "messages.pot", "rb") as f:
        return _ids(read_po(f))


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_compiled_catalogue_translates_every_message(template_ids, locale):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo", "rb") as f:
        compiled = read_mo(f)
    empty = sorted(str(m.id) for m in compiled if m.id and not _translated(m))
    assert empty == []
    missing = sorted(str(i) for i in template_ids - _ids(compiled))
    assert missing == [], f"{locale}: compile the catalogue (scripts/i18n.sh); untranslated: {missing[:10]}"


def test_zh_catalogue_has_no_empty_or_fuzzy_entries():
    with open(TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    assert [m.id for m in catalog if m.id and (not _translated(m) or m.fuzzy)] == []


def test_every_string_in_the_code_is_in_the_catalogue(tmp_path, template_ids):
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "--ignore-dirs", ".* _* build dist node_modules tests",
        "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_ngettext:1,2", "-o", str(pot), str(ROOT),
    ])
    with open(pot, "rb") as f:
        extracted = _ids(read_po(f))
    assert sorted(map(str, extracted - template_ids)) == [], "run scripts/i18n.sh and translate the new strings"
