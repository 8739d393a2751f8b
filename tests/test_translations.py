"""The translation catalogues are complete, current and correct.

* zh_Hant_TW and en have no untranslated and no fuzzy entry;
* every translation keeps its msgid's %-placeholders, {fields}, HTML tags and entities;
* translations/messages.pot is not stale: a fresh extraction of the code (app + Flask-AppBuilder,
  the same one scripts/update-translations.sh runs) finds no msgid that the .pot lacks, and
  both catalogues cover the .pot: a string added to the code without re-running the pipeline
  and translating it fails here;
* the zh_Hant_TW wording is Taiwan's (no Simplified characters, no mainland terms);
* the pages render in both languages, Flask-AppBuilder's own login page included (its Simplified
  ``zh`` catalogue is loaded under ours for zh_Hant_TW, so ours must override every msgid).

Fix a failure with ``./scripts/update-translations.sh`` (see scripts/translations.py for the
translation memory workflow).
"""
from __future__ import annotations

import contextvars
import importlib.util
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LOCALES = ("zh_Hant_TW", "en")
HINT = "run ./scripts/update-translations.sh and translate what it lists"


def _pipeline():
    spec = importlib.util.spec_from_file_location(
        "translations_pipeline", ROOT / "scripts" / "translations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pipeline = _pipeline()


def _read(path: Path):
    with open(path, "rb") as fh:
        return read_po(fh)


def _po(locale: str):
    return _read(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po")


def _key(message) -> str:
    msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
    return f"{message.context}\x04{msgid}" if message.context else msgid


def _ids(catalog) -> set[str]:
    return {_key(m) for m in catalog if m.id}


def _pairs(message, nplurals: int):
    """(source, translation) pairs; a plural form is checked against the matching source."""
    if isinstance(message.id, (list, tuple)):
        forms = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        forms = (tuple(forms) + ("",) * nplurals)[:nplurals]
        singular, plural = message.id[0], message.id[1]
        return [(singular if i == 0 and nplurals > 1 else plural, form)
                for i, form in enumerate(forms)]
    return [(message.id, message.string or "")]


# ---------------------------------------------------------------------------- completeness
@pytest.mark.parametrize("locale", LOCALES)
def test_no_untranslated_or_fuzzy_entries(locale):
    catalog = _po(locale)
    assert not catalog.fuzzy, f"the {locale} catalogue's header is marked fuzzy"
    fuzzy, untranslated = [], []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            fuzzy.append(_key(message))
        if not all(text for _, text in _pairs(message, catalog.num_plurals)):
            untranslated.append(_key(message))
    assert not fuzzy, f"{locale}: fuzzy entries ({HINT}): {fuzzy}"
    assert not untranslated, (f"{locale}: {len(untranslated)} untranslated entries ({HINT}): "
                              f"{untranslated}")


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_placeholders_tags_and_entities(locale):
    catalog = _po(locale)
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        for source, text in _pairs(message, catalog.num_plurals):
            if text and pipeline.placeholders(source) != pipeline.placeholders(text):
                wrong.append((source, text, pipeline.placeholder_problems(source, text)))
    assert not wrong, f"{locale}: placeholder mismatches: {wrong}"


def test_placeholder_check_catches_mistakes():
    """The check the test above relies on is not vacuous."""
    assert pipeline.placeholder_problems("Pay by %(deadline)s", "請於 %(deadlne)s 前繳費")
    assert pipeline.placeholder_problems("%(n)d message(s)", "%(n)s 則訊息")
    assert pipeline.placeholder_problems("200%% zoom", "放大 200%")
    assert pipeline.placeholder_problems("A &amp; B", "A & B")
    assert pipeline.placeholder_problems('<a href="%(url)s">here</a>', "這裡")
    assert not pipeline.placeholder_problems("Row %(row)s of %(n)s", "共 %(n)s 列，第 %(row)s 列")


def test_catalogues_cover_the_template():
    pot = _ids(_read(TRANSLATIONS / "messages.pot"))
    for locale in LOCALES:
        missing = pot - _ids(_po(locale))
        assert not missing, f"{locale} lacks msgids of messages.pot ({HINT}): {sorted(missing)}"


def test_template_is_not_stale(tmp_path):
    """Re-extract the code now: every msgid it uses must already be in messages.pot."""
    fresh = _ids(pipeline.extract(tmp_path / "messages.pot"))
    committed = _ids(_read(TRANSLATIONS / "messages.pot"))
    missing = fresh - committed
    assert not missing, (f"{len(missing)} msgid(s) in the code are missing from "
                         f"translations/messages.pot ({HINT}): {sorted(missing)}")
    counts = pipeline.counts(_read(tmp_path / "messages.pot"))
    assert counts["app"] > 0 and counts["fab"] > 100  # both sources were really extracted


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalogues_match_the_po_files(locale):
    po = _po(locale)
    mo_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"
    assert mo_path.exists(), f"{mo_path} is missing: run pybabel compile -d translations"
    with open(mo_path, "rb") as fh:
        mo = read_mo(fh)
    def text(message):
        s = message.string
        return tuple(s) if isinstance(s, (list, tuple)) else (s,)

    compiled = {_key(m): text(m) for m in mo if m.id}
    stale = [_key(m) for m in po if m.id and compiled.get(_key(m)) != text(m)]
    assert not stale, f"{locale}: the .mo is older than the .po ({HINT}): {stale[:20]}"


# ------------------------------------------------------------------------ Taiwan's wording
# Simplified-only characters (and variant forms Taiwan's standard does not use) and
# mainland terms with their Taiwan usage.
SIMPLIFIED = set("们这说时会设户录删编辑览码记务认证权数资讯档图钮选项页择应该开关闭显现态称类报费"
                 "缴单馆场请输错误无没为个与书学习课门问题发内强着温减决冲况净将黄册线么双变级")
MAINLAND_TERMS = {
    "搜索": "搜尋", "信息": "資訊/訊息", "默認": "預設", "設置": "設定", "登錄": "登入",
    "菜單": "選單", "保存": "儲存", "創建": "建立", "鏈接": "連結", "數據": "資料",
    "服務器": "伺服器", "網絡": "網路", "用戶": "使用者", "激活": "啟用", "軟件": "軟體",
    "打印": "列印", "導出": "匯出", "導入": "匯入", "字段": "欄位", "批量": "批次",
    "屏幕": "螢幕", "文本": "文字", "賬": "帳", "郵箱": "電子郵件信箱", "台中": "臺中",
    "台北": "臺北", "身份": "身分", "視圖": "檢視", "文件夾": "資料夾",
}


def test_zh_Hant_TW_uses_taiwan_wording():
    wrong = []
    for message in _po("zh_Hant_TW"):
        if not message.id:
            continue
        for _, text in _pairs(message, 1):
            chars = sorted({c for c in text if c in SIMPLIFIED})
            terms = [f"{t}→{tw}" for t, tw in MAINLAND_TERMS.items() if t in text]
            if chars or terms:
                wrong.append((text, chars, terms))
    assert not wrong, f"Simplified characters or mainland terms: {wrong}"


# ------------------------------------------------------------------------------- rendering
def _get(client, url):
    """One request in a fresh context (the ``db`` fixture keeps an app context pushed, and
    Flask-Babel caches the locale on ``g``)."""
    return contextvars.Context().run(client.get, url)


def test_catalogue_page_in_both_languages(client):
    html = _get(client, "/").get_data(as_text=True)
    assert '<html lang="zh-Hant-TW">' in html
    assert "搜尋" in html and "藝文研習課程" in html
    assert ">Search<" not in html
    assert _get(client, "/language/en").status_code == 302
    html = _get(client, "/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Search" in html and "Arts workshop courses" in html
    assert "搜尋" not in html


def test_flask_appbuilder_login_page_in_traditional_chinese(client):
    resp = _get(client, "/login/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "使用者名稱" in html or "帳號" in html
    assert "密碼" in html and "登入" in html
    # FAB's Simplified zh catalogue lies under ours: none of it may show through
    for simplified in ("用户名", "密码", "登录", "请"):
        assert simplified not in html
    _get(client, "/language/en")
    html = _get(client, "/login/").get_data(as_text=True)
    assert "Username" in html and "Password" in html and "密碼" not in html
