"""PDF documents in Traditional Chinese: payment slip (繳款單), receipt (收據), certificate
(研習證書) and generic tables such as class rosters (點名單).  Pure: reportlab and stdlib only.

The text is set in an embedded TrueType font (AR PL UMing TW from Debian's fonts-arphic-uming)
so the glyphs render everywhere and the text can be extracted again (``pdftotext``).
reportlab's built-in CID font ``MSung-Light`` is not used: its CMap is wrong for Traditional
Chinese.
"""
from __future__ import annotations

import datetime
import io
import os
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.code39 import Standard39
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT_NAME = "UMingTW"
DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/arphic/uming.ttc"
UMING_TW_SUBFONT_INDEX = 2  # uming.ttc faces: 0 CN, 1 HK, 2 TW, 3 TW MBE (see `fc-query`)
MONO = "Courier"  # barcode texts and account numbers: unambiguous digits
TAIPEI = ZoneInfo("Asia/Taipei")

_font_lock = threading.Lock()


class FontMissingError(RuntimeError):
    """The Traditional Chinese TrueType font file could not be found."""


def register_chinese_font(
    path: str | None = None, subfont_index: int = UMING_TW_SUBFONT_INDEX
) -> str:
    """Register the Traditional Chinese font once per process and return its reportlab name.

    ``path`` defaults to ``$PDF_FONT_PATH`` or :data:`DEFAULT_FONT_PATH`; ``subfont_index``
    picks the face inside a ``.ttc`` collection (2 = "AR PL UMing TW").  The first
    successful registration wins; later calls are no-ops.
    """
    with _font_lock:
        if FONT_NAME in pdfmetrics.getRegisteredFontNames():
            return FONT_NAME
        path = path or os.environ.get("PDF_FONT_PATH") or DEFAULT_FONT_PATH
        if not os.path.isfile(path):
            raise FontMissingError(
                f"Traditional Chinese font not found at {path!r}: install Debian's "
                "fonts-arphic-uming or set PDF_FONT_PATH to a TrueType (.ttf/.ttc) CJK font"
            )
        pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=subfont_index))
        return FONT_NAME


# --- formatting helpers -------------------------------------------------------------------------


def taipei_date(value: datetime.date | datetime.datetime) -> datetime.date:
    """The Asia/Taipei calendar date of ``value`` (naive datetimes are taken as Taipei time)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TAIPEI)
        return value.date()
    return value


def roc_date(value: datetime.date | datetime.datetime) -> str:
    """民國 date, e.g. 2026-12-10 -> ``民國115年12月10日``."""
    day = taipei_date(value)
    return f"民國{day.year - 1911}年{day.month:02d}月{day.day:02d}日"


def money(amount: int) -> str:
    """``2800`` -> ``2,800``."""
    return f"{amount:,}"


_CN_DIGITS = "零壹貳參肆伍陸柒捌玖"


def amount_in_chinese(amount: int) -> str:
    """Amount in formal Chinese numerals (大寫金額), e.g. 2800 -> ``新臺幣貳仟捌佰元整``."""
    if not 0 <= amount < 10**12:
        raise ValueError(f"amount out of range: {amount}")
    if amount == 0:
        return "新臺幣零元整"
    groups = []
    while amount:
        amount, group = divmod(amount, 10_000)
        groups.append(group)
    text, zero_pending = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(text)
            continue
        if text and (zero_pending or group < 1000):
            text += "零"
        zero_pending = False
        inner_zero, started = False, False
        for digit, unit in zip(f"{group:04d}", ("仟", "佰", "拾", "")):
            if digit == "0":
                inner_zero = started
                continue
            if inner_zero:
                text += "零"
                inner_zero = False
            text += _CN_DIGITS[int(digit)] + unit
            started = True
        text += ("", "萬", "億")[index]
    return f"新臺幣{text}元整"


def _style(size: float = 10, leading: float | None = None, **kw) -> ParagraphStyle:
    return ParagraphStyle(
        "cjk", fontName=FONT_NAME, fontSize=size, leading=leading or size * 1.35,
        wordWrap="CJK", **kw,
    )


def _escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _para(text: object, size: float = 10, **kw) -> Paragraph:
    return Paragraph(_escape(text), _style(size, **kw))


def _text(canvas: Canvas, x: float, y: float, text: str, size: float = 10,
          font: str = FONT_NAME, align: str = "left") -> None:
    canvas.setFont(font, size)
    draw = {"left": canvas.drawString, "center": canvas.drawCentredString,
            "right": canvas.drawRightString}[align]
    draw(x, y, text)


def _grid_style(extra: Iterable[tuple] = ()) -> TableStyle:
    return TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        *extra,
    ])


def _new_canvas(buffer: io.BytesIO, title: str, pagesize=A4) -> Canvas:
    register_chinese_font()
    canvas = Canvas(buffer, pagesize=pagesize)
    canvas.setTitle(title)
    canvas.setAuthor("臺中市藝文研習報名系統")
    return canvas


# --- payment slip (繳款單) ------------------------------------------------------------------------


@dataclass
class SlipData:
    """What a payment slip (繳款單) shows; the amounts are those fixed when it was issued."""

    venue_name: str  # 場館
    course_code: str  # 課程代碼
    course_title: str  # 課程名稱
    citizen_name_masked: str  # 學員姓名 (masked, e.g. 王○明)
    citizen_id_masked: str  # 身分證字號 (masked, e.g. A12****789)
    entry_number: str  # 報名序號
    fee: int  # 學費 before discount
    amount: int  # 應繳金額 = discounted fee + materials fee
    deadline: datetime.date | datetime.datetime  # 繳費期限 (last day, Asia/Taipei)
    virtual_account: str  # 虛擬帳號
    barcodes: tuple[str, str, str]  # 超商三段條碼
    qr_payload: str  # text of the QR code for banking apps
    discount_percent: int = 100  # 應繳百分比 (90 = pays 90 %)
    identity: str = ""  # 身分別, e.g. 樂齡
    materials_fee: int = 0  # 材料費 (never discounted)
    bank_name: str = "臺灣銀行"
    bank_code: str = "004"
    issued_on: datetime.date | None = None  # 開單日期

    def __post_init__(self) -> None:
        masked = self.citizen_id_masked
        if len(masked) == 10 and masked[0].isalpha() and masked[1:].isdigit():
            raise ValueError("citizen_id_masked looks like a full national ID: mask it first")


SLIP_LABELS: dict[str, str] = {
    "title": "研習課程繳款單",
    "issued_on": "開單日期",
    "course_code": "課程代碼",
    "course_title": "課程名稱",
    "citizen_name": "學員姓名",
    "citizen_id": "身分證字號",
    "entry_number": "報名序號",
    "identity": "身分別",
    "no_identity": "一般",
    "computation": "金額計算",
    "fee": "學費",
    "materials_fee": "材料費",
    "amount": "應繳金額",
    "currency": "新臺幣",
    "dollars": "元",
    "deadline": "繳費期限",
    "before": "23:59 前",
    "bank_section": "銀行繳款（臨櫃／ATM／網路銀行）",
    "bank": "收款銀行",
    "bank_code": "銀行代碼",
    "virtual_account": "繳款帳號（虛擬帳號）",
    "qr_caption": "銀行 App 掃碼",
    "store_section": "超商代收（7-ELEVEN／全家／萊爾富／OK）",
    "ways_title": "繳費方式",
    "way_counter": "臺灣銀行臨櫃：持本繳款單至臺灣銀行各分行臨櫃繳款。",
    "way_atm": "ATM 轉帳：選「轉帳」，輸入銀行代碼 {bank_code} 及上列 14 位繳款帳號，"
               "轉帳金額須與應繳金額相同。",
    "way_online": "網路銀行／網路ATM：轉入銀行代碼 {bank_code}、帳號為繳款帳號，金額須與應繳金額相同。",
    "way_store": "四大超商：持本繳款單至 7-ELEVEN、全家、萊爾富、OK 超商櫃檯掃描條碼繳款"
                 "（超商代收約 2 個工作天後入帳）。",
    "note": "逾期未繳費者視同放棄錄取資格；本繳款單僅限本人使用。",
}


def _computation(data: SlipData, labels: Mapping[str, str]) -> str:
    tuition = data.amount - data.materials_fee
    dollars = labels["dollars"]
    text = f"{labels['fee']} {money(data.fee)} {dollars}"
    if data.discount_percent != 100:
        who = f"（{data.identity}）" if data.identity else ""
        text += f" × {data.discount_percent}%{who} ＝ {money(tuition)} {dollars}"
    if data.materials_fee:
        text += f" ＋ {labels['materials_fee']} {money(data.materials_fee)} {dollars}"
    return text + f" ＝ {money(data.amount)} {dollars}"


def _draw_qr(canvas: Canvas, payload: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(payload, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _draw_code39(canvas: Canvas, value: str, center_x: float, y: float) -> None:
    """One Code 39 barcode (no extra check character) with its text printed underneath."""
    barcode = Standard39(value, barWidth=0.85, barHeight=26, checksum=0, quiet=1)
    barcode.drawOn(canvas, center_x - barcode.width / 2, y + 11)
    _text(canvas, center_x, y, value, 10, MONO, "center")


def render_payment_slip(data: SlipData, labels: Mapping[str, str] | None = None) -> bytes:
    """One A4 page of 繳款單 for ``data``; ``labels`` overrides entries of :data:`SLIP_LABELS`."""
    L = {**SLIP_LABELS, **(labels or {})}
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, f"{L['title']} {data.entry_number}")
    width, height = A4
    left, right = 18 * mm, width - 18 * mm
    content = right - left

    _text(canvas, width / 2, height - 22 * mm, data.venue_name, 14, align="center")
    _text(canvas, width / 2, height - 32 * mm, L["title"], 20, align="center")
    if data.issued_on:
        _text(canvas, right, height - 38 * mm, f"{L['issued_on']}：{roc_date(data.issued_on)}",
              9, align="right")

    deadline = taipei_date(data.deadline)
    amount_text = f"{L['currency']} {money(data.amount)} {L['dollars']}"
    rows = [
        [L["course_code"], data.course_code, L["course_title"], _para(data.course_title)],
        [L["citizen_name"], data.citizen_name_masked, L["citizen_id"], data.citizen_id_masked],
        [L["entry_number"], data.entry_number, L["identity"], data.identity or L["no_identity"]],
        [L["computation"], _para(_computation(data, L)), "", ""],
        [L["amount"], _para(amount_text, 15), "", ""],
        [L["deadline"], f"{roc_date(deadline)}（{deadline.isoformat()}）{L['before']}", "", ""],
    ]
    label_w = 26 * mm
    table = Table(rows, colWidths=[label_w, content / 2 - label_w, label_w, content / 2 - label_w])
    table.setStyle(_grid_style([
        ("FONT", (0, 0), (-1, -1), FONT_NAME, 10),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")),
        ("BACKGROUND", (2, 0), (2, 2), colors.HexColor("#eeeeee")),
        *[("SPAN", (1, r), (3, r)) for r in (3, 4, 5)],
    ]))
    _, table_h = table.wrapOn(canvas, content, height)
    top = height - 42 * mm
    table.drawOn(canvas, left, top - table_h)

    # bank: counter / ATM / internet banking, with the QR code on the right
    y = top - table_h - 10 * mm
    _text(canvas, left, y, L["bank_section"], 12)
    qr_size = 30 * mm
    _draw_qr(canvas, data.qr_payload, right - qr_size, y - qr_size - 2 * mm, qr_size)
    _text(canvas, right - qr_size / 2, y - qr_size - 6 * mm, L["qr_caption"], 8, align="center")
    _text(canvas, left, y - 9 * mm,
          f"{L['bank']}：{data.bank_name}（{L['bank_code']} {data.bank_code}）", 11)
    _text(canvas, left, y - 18 * mm, f"{L['virtual_account']}：", 11)
    _text(canvas, left + 42 * mm, y - 18.5 * mm, data.virtual_account, 16, "Courier-Bold")
    _text(canvas, left, y - 27 * mm, f"{L['amount']}：{amount_text}", 11)

    # convenience stores: three Code 39 barcodes, one under the other
    y -= qr_size + 16 * mm
    canvas.setStrokeColor(colors.grey)
    canvas.setDash(3, 3)
    canvas.line(left, y + 6 * mm, right, y + 6 * mm)
    canvas.setDash()
    _text(canvas, left, y, L["store_section"], 12)
    y -= 17 * mm
    for value in data.barcodes:
        _draw_code39(canvas, value, width / 2, y)
        y -= 16 * mm

    # the four ways to pay
    y -= 2 * mm
    canvas.line(left, y + 6 * mm, right, y + 6 * mm)
    _text(canvas, left, y, L["ways_title"], 12)
    ways = [L[k].format(bank_code=data.bank_code)
            for k in ("way_counter", "way_atm", "way_online", "way_store")]
    y -= 3 * mm
    for number, way in enumerate(ways, start=1):
        style = _style(10, leftIndent=12, firstLineIndent=-12)
        para = Paragraph(f"{number}. {_escape(way)}", style)
        _, h = para.wrapOn(canvas, content, height)
        para.drawOn(canvas, left, y - h)
        y -= h + 1.5 * mm
    _text(canvas, left, max(y - 5 * mm, 12 * mm), L["note"], 9)

    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- receipt (收據) -------------------------------------------------------------------------------


@dataclass
class ReceiptData:
    """A receipt (收據) for a received payment."""

    receipt_number: str  # 收據編號
    venue_name: str  # 場館
    course_code: str  # 課程代碼
    course_title: str  # 課程名稱
    payer_name_masked: str  # 繳款人 (masked)
    amount: int  # 金額
    paid_on: datetime.date | datetime.datetime  # 繳款日期 (Asia/Taipei)
    channel: str  # 繳款管道, e.g. 超商代收（7-ELEVEN）
    issued_by: str  # 開立單位／經手人
    issued_on: datetime.date | None = None  # 開立日期 (defaults to paid_on)
    entry_number: str = ""  # 報名序號


def _draw_receipt(canvas: Canvas, data: ReceiptData) -> None:
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    content = right - left
    top = height - 20 * mm
    _text(canvas, width / 2, top - 8 * mm, data.venue_name, 14, align="center")
    _text(canvas, width / 2, top - 19 * mm, "收　據", 22, align="center")
    issued = data.issued_on or taipei_date(data.paid_on)
    _text(canvas, left, top - 28 * mm, f"收據編號：{data.receipt_number}", 10)
    _text(canvas, right, top - 28 * mm, f"開立日期：{roc_date(issued)}", 10, align="right")
    rows = [
        ["課程", _para(f"{data.course_code} {data.course_title}")],
        ["報名序號", data.entry_number or "—"],
        ["繳款人", data.payer_name_masked],
        ["金額", _para(f"新臺幣 {money(data.amount)} 元（{amount_in_chinese(data.amount)}）", 12)],
        ["繳款日期", roc_date(data.paid_on)],
        ["繳款管道", data.channel],
        ["開立單位", data.issued_by],
    ]
    table = Table(rows, colWidths=[28 * mm, content - 28 * mm])
    table.setStyle(_grid_style([
        ("FONT", (0, 0), (-1, -1), FONT_NAME, 11),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")),
        ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    _, table_h = table.wrapOn(canvas, content, height)
    table.drawOn(canvas, left, top - 34 * mm - table_h)
    _text(canvas, left, top - 42 * mm - table_h,
          "本收據由臺中市藝文研習報名系統開立，請妥善保存。", 9)


def render_receipts(receipts: Sequence[ReceiptData]) -> bytes:
    """Many receipts (收據), one A4 page each, in one PDF."""
    if not receipts:
        raise ValueError("no receipts to render")
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, "收據")
    for data in receipts:
        _draw_receipt(canvas, data)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_receipt(data: ReceiptData) -> bytes:
    """One receipt (收據) as a one-page PDF."""
    return render_receipts([data])


# --- certificate (研習證書) ------------------------------------------------------------------------


@dataclass
class CertificateData:
    """A course completion certificate (研習證書)."""

    serial_number: str  # 證書字號
    learner_name: str  # 學員姓名 (full name: the certificate is the learner's own)
    course_title: str  # 課程名稱
    venue_name: str  # 場館
    start_date: datetime.date  # 研習起日
    end_date: datetime.date  # 研習迄日
    hours: float | None = None  # 研習時數
    sessions: int | None = None  # 堂數
    issued_on: datetime.date | None = None  # 發證日期 (defaults to end_date)
    issuer: str = ""  # 發證單位 (defaults to the venue)


def _draw_certificate(canvas: Canvas, data: CertificateData) -> None:
    width, height = landscape(A4)
    canvas.setStrokeColor(colors.HexColor("#8a6d3b"))
    canvas.setLineWidth(3)
    canvas.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    canvas.setLineWidth(0.8)
    canvas.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)
    _text(canvas, width - 25 * mm, height - 28 * mm, f"證書字號：{data.serial_number}", 10,
          align="right")
    _text(canvas, width / 2, height - 52 * mm, "研 習 證 書", 34, align="center")

    parts = []
    if data.sessions:
        parts.append(f"{data.sessions} 堂")
    if data.hours:
        parts.append(f"{data.hours:g} 小時")
    total = f"，共計{'、'.join(parts)}" if parts else ""
    body = (f"{_escape(data.learner_name)} 君於{roc_date(data.start_date)}至{roc_date(data.end_date)}"
            f"參加{_escape(data.venue_name)}辦理之「{_escape(data.course_title)}」研習課程"
            f"{total}，成績合格，特頒此證。")
    para = Paragraph(body, _style(18, leading=32))
    box_w = width - 70 * mm
    _, h = para.wrapOn(canvas, box_w, height)
    para.drawOn(canvas, 35 * mm, height - 75 * mm - h)

    issued = taipei_date(data.issued_on or data.end_date)
    _text(canvas, width - 35 * mm, 52 * mm, data.issuer or data.venue_name, 16, align="right")
    _text(canvas, width / 2, 28 * mm,
          f"中　華　民　國　{issued.year - 1911}　年　{issued.month}　月　{issued.day}　日",
          14, align="center")


def render_certificates(certificates: Sequence[CertificateData]) -> bytes:
    """Many certificates (研習證書), one landscape A4 page each."""
    if not certificates:
        raise ValueError("no certificates to render")
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, "研習證書", landscape(A4))
    for data in certificates:
        _draw_certificate(canvas, data)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_certificate(data: CertificateData) -> bytes:
    """One certificate (研習證書) as a one-page PDF."""
    return render_certificates([data])


# --- generic table (rosters 點名單, lists) ----------------------------------------------------------


def render_table_pdf(
    title: str,
    headers: list[str],
    rows: list[list[str]],
    subtitle: str = "",
    col_widths: Sequence[float] | None = None,
) -> bytes:
    """A landscape A4 table in Chinese, paginated, header row repeated on every page.

    Column widths default to proportions of the widest text in each column.
    """
    if not headers or any(len(row) > len(headers) for row in rows):
        raise ValueError("a table needs headers, and no row may have more cells than headers")
    rows = [list(row) + [""] * (len(headers) - len(row)) for row in rows]
    register_chinese_font()
    page = landscape(A4)
    margin = 12 * mm
    usable = page[0] - 2 * margin
    if col_widths is None:
        natural = [
            min(max(pdfmetrics.stringWidth(str(text), FONT_NAME, 9)
                    for text in [h] + [r[i] for r in rows]) + 14, usable * 0.4)
            for i, h in enumerate(headers)
        ]
        col_widths = [usable * w / sum(natural) for w in natural]

    def on_page(canvas: Canvas, doc) -> None:
        canvas.setFont(FONT_NAME, 8)
        canvas.drawRightString(page[0] - margin, 7 * mm, f"第 {doc.page} 頁")
        canvas.drawString(margin, 7 * mm, title)

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=page, leftMargin=margin, rightMargin=margin,
                            topMargin=margin, bottomMargin=14 * mm, title=title,
                            author="臺中市藝文研習報名系統")
    cell = _style(9)
    head = _style(9, textColor=colors.white)
    data = [[Paragraph(_escape(h), head) for h in headers]]
    data += [[Paragraph(_escape(v), cell) for v in row] for row in rows]
    table = Table(data, colWidths=list(col_widths), repeatRows=1)
    table.setStyle(_grid_style([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#44546a")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f3f3")]),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    story = [Paragraph(_escape(title), _style(16, alignment=TA_CENTER))]
    if subtitle:
        story.append(Paragraph(_escape(subtitle), _style(10, alignment=TA_CENTER)))
    story += [Spacer(1, 4 * mm), table]
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
