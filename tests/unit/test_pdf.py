"""PDFs render real Traditional Chinese text that `pdftotext` extracts again."""
import datetime
import io
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from app.services import pdf
from app.services.payment_codes import qr_payload, store_barcodes, virtual_account
from app.services.pdf import (
    CertificateData,
    ReceiptData,
    SlipData,
    amount_in_chinese,
    render_certificate,
    render_certificates,
    render_payment_slip,
    render_receipt,
    render_receipts,
    render_table_pdf,
    roc_date,
)

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")

DEADLINE = datetime.date(2026, 12, 10)


def pdf_text(content: bytes, tmp_path, name: str = "doc.pdf") -> str:
    """Write the PDF to a file and extract its text with ``pdftotext -layout``."""
    path = tmp_path / name
    path.write_bytes(content)
    result = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return result.stdout


def page_count(content: bytes) -> int:
    return len(PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def slip() -> SlipData:
    va = virtual_account("98765", 1, 2800)
    return SlipData(
        venue_name="臺中市葫蘆墩文化中心",
        course_code="AR115-01",
        course_title="陶藝入門：手捏與拉坯",
        citizen_name_masked="王○明",
        citizen_id_masked="A12****789",
        entry_number="115-0001",
        fee=3000,
        discount_percent=90,
        identity="樂齡",
        materials_fee=100,
        amount=2800,
        deadline=DEADLINE,
        virtual_account=va,
        barcodes=store_barcodes(DEADLINE, "TC1", va, 2800),
        qr_payload=qr_payload("004", va, 2800),
        issued_on=datetime.date(2026, 12, 8),
    )


def test_font_is_the_taiwan_face_of_uming():
    name = pdf.register_chinese_font()
    from reportlab.pdfbase import pdfmetrics

    assert pdfmetrics.getFont(name).face.familyName == b"AR PL UMing TW"
    assert pdf.register_chinese_font() == name  # once per process


def test_missing_font_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(pdf.pdfmetrics, "getRegisteredFontNames", lambda: [])
    with pytest.raises(pdf.FontMissingError, match="fonts-arphic-uming"):
        pdf.register_chinese_font("/nonexistent/font.ttc")


def test_payment_slip_is_one_page_with_everything(slip, tmp_path):
    content = render_payment_slip(slip)
    assert content.startswith(b"%PDF")
    assert page_count(content) == 1
    text = pdf_text(content, tmp_path)
    for expected in [
        "臺中市葫蘆墩文化中心",
        "陶藝入門：手捏與拉坯",
        "AR115-01",
        "王○明",
        "A12****789",
        "115-0001",
        "2,800",
        "3,000",
        "90%（樂齡）",
        "材料費 100",
        "民國115年12月10日",
        "2026-12-10",
        "臺灣銀行",
        "004",
        "98765000000012",
        "151210TC1",
        "0098765000000012",
        "151262000002800",
        "臺灣銀行臨櫃",
        "ATM 轉帳",
        "網路銀行",
        "7-ELEVEN、全家、萊爾富、OK",
    ]:
        assert expected in text, expected


def test_payment_slip_labels_can_be_replaced(slip, tmp_path):
    text = pdf_text(render_payment_slip(slip, labels={"title": "Payment slip"}), tmp_path)
    assert "Payment slip" in text and "研習課程繳款單" not in text


def test_slip_refuses_unmasked_national_id(slip):
    with pytest.raises(ValueError, match="mask"):
        SlipData(**{**slip.__dict__, "citizen_id_masked": "A123456789"})


def test_slip_deadline_in_taipei_time(slip, tmp_path):
    # 2026-12-10 16:30 UTC is already 12月11日 00:30 in Taipei
    late = datetime.datetime(2026, 12, 10, 16, 30, tzinfo=datetime.timezone.utc)
    slip.deadline = late
    text = pdf_text(render_payment_slip(slip), tmp_path)
    assert "民國115年12月11日" in text and "2026-12-11" in text


def receipt(number: str, amount: int = 2800) -> ReceiptData:
    return ReceiptData(
        receipt_number=number,
        venue_name="臺中市大墩文化中心",
        course_code="CA115-07",
        course_title="書法初階",
        payer_name_masked="林○華",
        amount=amount,
        paid_on=datetime.date(2026, 12, 9),
        channel="超商代收（7-ELEVEN）",
        issued_by="大墩文化中心 出納",
    )


def test_receipt(tmp_path):
    content = render_receipt(receipt("R115-000123"))
    assert page_count(content) == 1
    text = pdf_text(content, tmp_path)
    for expected in ["收", "R115-000123", "臺中市大墩文化中心", "書法初階", "林○華", "2,800",
                     "新臺幣貳仟捌佰元整", "民國115年12月09日", "7-ELEVEN", "出納"]:
        assert expected in text, expected


def test_receipts_batch_one_page_each(tmp_path):
    content = render_receipts([receipt(f"R115-{n:06d}", 100 * n) for n in range(1, 4)])
    assert page_count(content) == 3
    text = pdf_text(content, tmp_path)
    assert all(f"R115-{n:06d}" in text for n in range(1, 4))
    with pytest.raises(ValueError):
        render_receipts([])


@pytest.mark.parametrize(
    "amount, words",
    [
        (0, "零"),
        (10, "壹拾"),
        (15, "壹拾伍"),
        (1005, "壹仟零伍"),
        (2800, "貳仟捌佰"),
        (10000, "壹萬"),
        (100500, "壹拾萬零伍佰"),
        (1000100, "壹佰萬零壹佰"),
        (20000001, "貳仟萬零壹"),
        (100000005, "壹億零伍"),
        (100010000, "壹億零壹萬"),
        (123456789, "壹億貳仟參佰肆拾伍萬陸仟柒佰捌拾玖"),
    ],
)
def test_amount_in_chinese(amount, words):
    assert amount_in_chinese(amount) == f"新臺幣{words}元整"


def test_roc_date():
    assert roc_date(datetime.date(2026, 12, 10)) == "民國115年12月10日"


def test_table_pdf_paginates_with_chinese(tmp_path):
    headers = ["序號", "姓名", "課程", "電話", "簽到"]
    rows = [[str(n), f"學員{n:03d}", "兒童水彩畫", "04-2222-0000", ""] for n in range(1, 81)]
    content = render_table_pdf("點名單：兒童水彩畫", headers, rows, subtitle="臺中市屯區藝文中心")
    assert page_count(content) >= 2
    reader = PdfReader(io.BytesIO(content))
    assert reader.pages[0].mediabox.width > reader.pages[0].mediabox.height  # landscape
    text = pdf_text(content, tmp_path)
    assert "點名單：兒童水彩畫" in text and "臺中市屯區藝文中心" in text
    assert "學員001" in text and "學員080" in text
    assert text.count("序號") == page_count(content)  # header repeated on each page
    assert "第 2 頁" in text


def certificate(serial: str, name: str) -> CertificateData:
    return CertificateData(
        serial_number=serial,
        learner_name=name,
        course_title="陶藝入門：手捏與拉坯",
        venue_name="臺中市葫蘆墩文化中心",
        start_date=datetime.date(2026, 3, 1),
        end_date=datetime.date(2026, 5, 31),
        hours=36,
        sessions=12,
    )


def test_certificate(tmp_path):
    content = render_certificate(certificate("中葫研字第115001號", "王大明"))
    assert page_count(content) == 1
    text = pdf_text(content, tmp_path)
    for expected in ["研 習 證 書", "中葫研字第115001號", "王大明", "陶藝入門", "12 堂", "36 小時",
                     "民國115年03月01日", "臺中市葫蘆墩文化中心"]:
        assert expected in text, expected


def test_certificates_batch(tmp_path):
    content = render_certificates([certificate(f"C{n}", f"學員{n}") for n in range(3)])
    assert page_count(content) == 3
    assert all(f"學員{n}" in pdf_text(content, tmp_path) for n in range(3))


def test_table_pdf_short_rows_padded_and_bad_shapes_refused(tmp_path):
    text = pdf_text(render_table_pdf("空白", ["甲", "乙"], [["只有一格"]]), tmp_path)
    assert "只有一格" in text
    assert page_count(render_table_pdf("空白", ["甲"], [])) == 1
    with pytest.raises(ValueError):
        render_table_pdf("x", [], [])
    with pytest.raises(ValueError):
        render_table_pdf("x", ["甲"], [["1", "2"]])
