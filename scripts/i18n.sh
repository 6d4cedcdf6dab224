#!/usr/bin/env bash
# Extract gettext strings, update the zh_CN and en catalogues, compile them.
# Usage: scripts/i18n.sh            (from anywhere; works on the repo root)
# The en catalogue is filled with msgid == msgstr so it is complete; zh_CN
# entries left empty are listed at the end and must be translated by hand.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TRANSLATIONS=shared/web/translations
POT="$TRANSLATIONS/messages.pot"
# Catalogue directories use Babel's canonical names: Locale.parse("zh_CN") is
# zh_Hans_CN, and gettext would not find a "zh_CN" directory for it.
LOCALES=(zh_Hans_CN en)

# Use $BIN if given, else the repo's .venv, else whatever pybabel is on PATH.
if [[ -z "${BIN:-}" ]]; then
  if [[ -x .venv/bin/pybabel ]]; then
    BIN=.venv/bin
  elif command -v pybabel >/dev/null; then
    BIN="$(dirname "$(command -v pybabel)")"
  else
    echo "pybabel not found: create .venv (see README) or set BIN=/path/to/venv/bin" >&2
    exit 1
  fi
fi
PYBABEL="$BIN/pybabel"
PYTHON="$BIN/python"
[[ -x "$PYTHON" ]] || PYTHON=python3

"$PYBABEL" extract -F babel.cfg --sort-by-file --no-wrap \
  --ignore-dirs '.* _* build dist node_modules' \
  -k _l -k lazy_gettext -k 'lazy_ngettext:1,2' \
  --project=Fieldbook --version=0.1.0 --copyright-holder="Fieldbook contributors" \
  -o "$POT" .

for loc in "${LOCALES[@]}"; do
  po="$TRANSLATIONS/$loc/LC_MESSAGES/messages.po"
  if [[ -f "$po" ]]; then
    "$PYBABEL" update --no-fuzzy-matching --no-wrap -i "$POT" -d "$TRANSLATIONS" -l "$loc"
  else
    "$PYBABEL" init --no-wrap -i "$POT" -d "$TRANSLATIONS" -l "$loc"
  fi
done

# English is the source language: copy every empty msgstr from its msgid.
"$PYTHON" - "$TRANSLATIONS/en/LC_MESSAGES/messages.po" <<'PY'
import sys
from babel.messages.pofile import read_po, write_po

path = sys.argv[1]
with open(path, "rb") as f:
    catalog = read_po(f, locale="en")
for message in catalog:
    if not message.id:
        continue
    if isinstance(message.id, tuple):
        if not any(message.string):
            message.string = tuple(message.id)
    elif not message.string:
        message.string = message.id
with open(path, "wb") as f:
    write_po(f, catalog, width=0, sort_by_file=True)
PY

"$PYBABEL" compile -d "$TRANSLATIONS" --statistics

# Report zh_CN strings that still need a translation.
"$PYTHON" - "$TRANSLATIONS/zh_Hans_CN/LC_MESSAGES/messages.po" <<'PY'
import sys
from babel.messages.pofile import read_po

with open(sys.argv[1], "rb") as f:
    catalog = read_po(f, locale="zh_Hans_CN")
missing = [m.id for m in catalog if m.id and not (any(m.string) if isinstance(m.string, tuple) else m.string)]
for msgid in missing:
    print(f"untranslated zh_CN: {msgid!r}")
sys.exit(0)
PY
