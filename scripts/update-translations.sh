#!/usr/bin/env bash
# Re-extract every translatable string and bring both catalogues up to date.
#
#   ./scripts/update-translations.sh
#
# 1. extract the app's strings (babel.cfg: app/**.py, app/templates/**.html; keywords _ gettext
#    _l lazy_gettext ngettext N_ ...) plus Flask-AppBuilder's msgids into translations/messages.pot
# 2. pybabel update zh_Hant_TW and en (init if missing), without fuzzy matching
# 3. en: msgstr = msgid; zh_Hant_TW: apply translations/zh_Hant_TW_memory.json (existing
#    translations are kept and learnt into the memory); lists what is still untranslated
# 4. pybabel compile -d translations
#
# New strings: `.venv/bin/python scripts/translations.py todo new.json`, translate the values,
# `.venv/bin/python scripts/translations.py learn new.json`, run this script again.
# `scripts/translations.py status` exits non-zero while anything is untranslated.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
PYBABEL=${PYBABEL:-.venv/bin/pybabel}

"$PY" scripts/translations.py extract

for locale in zh_Hant_TW en; do
    po="translations/$locale/LC_MESSAGES/messages.po"
    if [ ! -f "$po" ]; then
        "$PYBABEL" -q init -i translations/messages.pot -d translations -l "$locale"
    fi
    "$PYBABEL" -q update -i translations/messages.pot -d translations -l "$locale" \
        --no-fuzzy-matching --ignore-obsolete
done

"$PY" scripts/translations.py fill
"$PYBABEL" compile -d translations --statistics
