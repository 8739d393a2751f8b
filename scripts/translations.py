"""Translation pipeline helpers (run through scripts/update-translations.sh).

    python scripts/translations.py extract [--output PATH]   app + Flask-AppBuilder msgids -> .pot
    python scripts/translations.py fill                      en = msgid; zh_Hant_TW from the memory
    python scripts/translations.py status                    counts; exit 1 if anything is missing
    python scripts/translations.py todo [PATH]               untranslated zh_Hant_TW msgids as JSON
    python scripts/translations.py learn PATH                add a JSON {msgid: msgstr} to the memory

Sources
    * the app: ``babel.cfg`` (app/**.py, app/templates/**.html) with the keywords in
      ``APP_KEYWORDS``;
    * Flask-AppBuilder: its python sources and templates, plus every msgid of its own ``zh``
      and ``zh_HK`` catalogues.  Flask-Babel searches FAB's translations folder first, and
      gettext expands ``zh_Hant_TW`` to ``zh_Hant_TW``, ``zh``: FAB's *Simplified* ``zh``
      catalogue is loaded for our locale and ours is merged over it.  Any FAB msgid that our
      catalogue lacks would therefore show in Simplified Chinese, so ours carries them all.

Translation memory
    ``translations/zh_Hant_TW_memory.json`` (msgid -> msgstr; plural entries -> list of forms;
    a msgid with a context is keyed ``context + "\\x04" + msgid``) is the source of truth for
    zh_Hant_TW.  ``fill`` applies it after every ``pybabel update``, so strings that come and go
    keep their translation.  A translation typed straight into the .po that the memory does
    not know yet is learnt into the memory; where the two disagree the memory wins (a warning
    is printed).  To translate new strings: ``todo new.json``, fill in the values,
    ``learn new.json``, re-run scripts/update-translations.sh.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
MEMORY = TRANSLATIONS / "zh_Hant_TW_memory.json"
BABEL_CFG = ROOT / "babel.cfg"
ZH = "zh_Hant_TW"
EN = "en"
LOCALES = (ZH, EN)
PROJECT = "taichung-arts-workshops"

# pybabel's default keywords (_ gettext ngettext N_ pgettext ...) stay on; these are added.
APP_KEYWORDS = ("_", "gettext", "_l", "lazy_gettext", "ngettext:1,2", "lazy_ngettext:1,2", "N_")
FAB_KEYWORDS = ("_", "__", "gettext", "lazy_gettext", "lazy_formatter_gettext", "ngettext:1,2")
FAB_CATALOGUES = ("zh", "zh_HK")
FAB_MAPPING = """\
[python: **.py]

[jinja2: templates/**.html]
silent = false
"""


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def pybabel() -> list[str]:
    exe = Path(sys.executable).parent / "pybabel"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pybabel")
    return [found] if found else [sys.executable, "-m", "babel.messages.frontend"]


def fab_dir() -> Path:
    import flask_appbuilder

    return Path(flask_appbuilder.__file__).resolve().parent


def key_of(message) -> str:
    msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
    return f"{message.context}\x04{msgid}" if message.context else msgid


def is_plural(message) -> bool:
    return isinstance(message.id, (list, tuple))


def read_catalog(path: Path) -> Catalog:
    with open(path, "rb") as fh:
        return read_po(fh)


def write_catalog(catalog: Catalog, path: Path, **kw) -> None:
    buf = io.BytesIO()
    write_po(buf, catalog, **kw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


# ---------------------------------------------------------------------------------- extract
def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")


def _extract_app(out: Path) -> Catalog:
    cmd = pybabel() + ["extract", "-F", str(BABEL_CFG), "--add-comments=TRANSLATORS:",
                       "--project", PROJECT, "--version", "1.0", "-o", str(out)]
    for kw in APP_KEYWORDS:
        cmd += ["-k", kw]
    _run(cmd + ["."], ROOT)
    return read_catalog(out)


def _extract_fab(tmp: Path) -> Catalog:
    mapping = tmp / "fab.cfg"
    mapping.write_text(FAB_MAPPING)
    out = tmp / "fab.pot"
    base = fab_dir()
    cmd = pybabel() + ["extract", "-F", str(mapping), "-o", str(out)]
    for kw in FAB_KEYWORDS:
        cmd += ["-k", kw]
    _run(cmd + [base.name], base.parent)
    catalog = read_catalog(out)
    for loc in FAB_CATALOGUES:
        path = base / "translations" / loc / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            continue
        for msg in read_catalog(path):
            if msg.id and msg.id not in catalog:
                catalog.add(msg.id, None, locations=msg.locations, flags=msg.flags - {"fuzzy"},
                            auto_comments=[f"Flask-AppBuilder ({loc} catalogue)"],
                            context=msg.context)
    return catalog


def build_template(tmp: Path) -> Catalog:
    """The merged template: the app's messages, then Flask-AppBuilder's."""
    catalog = _extract_app(tmp / "app.pot")
    fab = _extract_fab(tmp)
    for msg in fab:
        if not msg.id:
            continue
        existing = catalog.get(msg.id, msg.context)
        if existing is not None:
            existing.locations = list(existing.locations) + [
                loc for loc in msg.locations if loc not in existing.locations]
            existing.flags |= msg.flags
        else:
            catalog.add(msg.id, None, locations=msg.locations, flags=msg.flags,
                        auto_comments=msg.auto_comments, user_comments=msg.user_comments,
                        context=msg.context)
    catalog.fuzzy = True  # a template's header is fuzzy, as pybabel writes it
    return catalog


_DATE_LINE = re.compile(rb'^"POT-Creation-Date: [^"]*"\n', re.M)


def extract(output: Path = POT) -> Catalog:
    """Write the merged .pot to ``output``; leave the file alone if only its date would change."""
    with tempfile.TemporaryDirectory() as tmpdir:
        catalog = build_template(Path(tmpdir))
    buf = io.BytesIO()
    write_po(buf, catalog)
    new = buf.getvalue()
    output = Path(output)
    if output.exists() and _DATE_LINE.sub(b"", output.read_bytes()) == _DATE_LINE.sub(b"", new):
        return catalog
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(new)
    return catalog


def template_ids(catalog: Catalog) -> set[str]:
    return {key_of(m) for m in catalog if m.id}


# -------------------------------------------------------------------------------------- fill
def load_memory() -> dict:
    if MEMORY.exists():
        return json.loads(MEMORY.read_text(encoding="utf-8"))
    return {}


def save_memory(memory: dict) -> None:
    text = json.dumps(dict(sorted(memory.items())), ensure_ascii=False, indent=1)
    MEMORY.write_text(text + "\n", encoding="utf-8")


def _forms(message, nplurals: int) -> list[str]:
    if is_plural(message):
        s = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
        return (s + [""] * nplurals)[:nplurals]
    return [message.string or ""]


def _translated(message, nplurals: int) -> bool:
    return not message.fuzzy and all(_forms(message, nplurals))


def fill() -> dict:
    """en: msgstr = msgid.  zh_Hant_TW: learn from the .po, apply the memory.  Returns counts."""
    # English: the sources are English.
    en = read_catalog(po_path(EN))
    for msg in en:
        if not msg.id:
            continue
        msg.flags.discard("fuzzy")
        if is_plural(msg):
            singular, plural = msg.id[0], msg.id[1]
            msg.string = tuple([singular] + [plural] * (en.num_plurals - 1))
        else:
            msg.string = msg.id
    en.fuzzy = False
    en.project, en.version = PROJECT, "1.0"
    write_catalog(en, po_path(EN), ignore_obsolete=True)

    # Traditional Chinese (Taiwan): the memory is the source of truth.
    zh = read_catalog(po_path(ZH))
    n = zh.num_plurals
    memory = load_memory()
    learnt, conflicts, missing = 0, [], []
    for msg in zh:
        if not msg.id:
            continue
        key = key_of(msg)
        if _translated(msg, n):
            value = _forms(msg, n) if is_plural(msg) else msg.string
            if key not in memory:
                memory[key] = value
                learnt += 1
            elif memory[key] != value:
                conflicts.append(key)
        msg.flags.discard("fuzzy")
        if key in memory:
            value = memory[key]
            if is_plural(msg):
                forms = value if isinstance(value, list) else [value]
                msg.string = tuple((forms + [forms[-1]] * n)[:n])
            else:
                msg.string = value[0] if isinstance(value, list) else value
        elif not _translated(msg, n):
            msg.string = ("",) * n if is_plural(msg) else ""
        if not _translated(msg, n):
            missing.append(key)
    zh.fuzzy = False
    zh.project, zh.version = PROJECT, "1.0"
    write_catalog(zh, po_path(ZH), ignore_obsolete=True)
    save_memory(memory)
    for key in conflicts:
        print(f"note: the .po's translation of {key!r} was replaced by the memory's",
              file=sys.stderr)
    return {"learnt": learnt, "missing": missing}


# ------------------------------------------------------------------------------- reporting
def counts(catalog: Catalog) -> dict:
    app = fab = both = 0
    for msg in catalog:
        if not msg.id:
            continue
        in_app = any(f.startswith("app/") for f, _ in msg.locations)
        in_fab = any(f.startswith("flask_appbuilder/") for f, _ in msg.locations)
        app += in_app
        fab += in_fab
        both += in_app and in_fab
    return {"total": len([m for m in catalog if m.id]), "app": app, "fab": fab, "both": both}


def untranslated(locale: str) -> list:
    catalog = read_catalog(po_path(locale))
    return [m for m in catalog if m.id and not _translated(m, catalog.num_plurals)]


# ------------------------------------------------------------------------ placeholder rules
PY_FORMAT = re.compile(r"%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[#0\- +]*(?:\*|\d+)?(?:\.\d+)?[sdifrxXeEgGcoa%]")
BRACE = re.compile(r"\{[A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}")
ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#\d+|#x[0-9A-Fa-f]+);")
TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def placeholders(text: str) -> Counter:
    """Everything a translation must keep verbatim: %-placeholders, {fields}, entities, tags."""
    found = Counter()
    for rx in (PY_FORMAT, BRACE, ENTITY, TAG):
        found.update(rx.findall(text))
    return found


def placeholder_problems(msgid: str, msgstr: str) -> list[str]:
    want, got = placeholders(msgid), placeholders(msgstr)
    if want == got:
        return []
    return [f"missing {sorted((want - got).elements())}" if want - got else "",
            f"extra {sorted((got - want).elements())}" if got - want else ""]


def learn(path: Path) -> int:
    new = json.loads(Path(path).read_text(encoding="utf-8"))
    memory = load_memory()
    added = 0
    bad = []
    for key, value in new.items():
        if not value or (isinstance(value, list) and not all(value)):
            continue
        msgid = key.split("\x04", 1)[-1]
        for form in value if isinstance(value, list) else [value]:
            if placeholder_problems(msgid, form):
                bad.append((key, form, placeholder_problems(msgid, form)))
        if memory.get(key) != value:
            memory[key] = value
            added += 1
    if bad:
        for key, form, problems in bad:
            print(f"placeholder mismatch: {key!r} -> {form!r}: {problems}", file=sys.stderr)
        raise SystemExit(1)
    save_memory(memory)
    return added


# -------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("extract")
    p.add_argument("--output", type=Path, default=POT)
    sub.add_parser("fill")
    sub.add_parser("status")
    p = sub.add_parser("todo")
    p.add_argument("path", nargs="?", type=Path)
    p = sub.add_parser("learn")
    p.add_argument("path", type=Path)
    args = parser.parse_args(argv)

    if args.cmd == "extract":
        c = counts(extract(args.output))
        print(f"{args.output}: {c['total']} msgids ({c['app']} from the app, {c['fab']} from Flask-AppBuilder, "
              f"{c['both']} shared)")
        return 0
    if args.cmd == "fill":
        result = fill()
        if result["learnt"]:
            print(f"learnt {result['learnt']} translation(s) from the .po into {MEMORY.name}")
        missing = result["missing"]
        print(f"{ZH}: {len(missing)} untranslated")
        for key in missing:
            print(f"  NEW  {key!r}")
        return 0
    if args.cmd == "status":
        c = counts(read_catalog(POT))
        print(f"messages.pot: {c['total']} msgids ({c['app']} app, {c['fab']} Flask-AppBuilder, "
              f"{c['both']} shared)")
        status = 0
        for locale in LOCALES:
            left = untranslated(locale)
            print(f"{locale}: {len(left)} untranslated")
            status |= bool(left)
        return status
    if args.cmd == "todo":
        todo = {}
        for msg in untranslated(ZH):
            todo[key_of(msg)] = [""] if is_plural(msg) else ""
        text = json.dumps(todo, ensure_ascii=False, indent=1) + "\n"
        if args.path:
            args.path.write_text(text, encoding="utf-8")
            print(f"{len(todo)} untranslated msgid(s) written to {args.path}")
        else:
            sys.stdout.write(text)
        return 0
    if args.cmd == "learn":
        print(f"{learn(args.path)} translation(s) added to {MEMORY.name}")
        return 0
    return 2


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
