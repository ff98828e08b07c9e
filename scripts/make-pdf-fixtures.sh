#!/usr/bin/env bash
# Regenerates the PDF fixtures of genai-ingest's tests: the same prose written by six different
# producers (fpdf2, ReportLab, groff's gropdf, Ghostscript, Chromium/Skia with CSS columns) plus the
# bad cases (encrypted, truncated, image-only). The committed PDFs are this script's output; run it
# only to change them. Needs: python3 (pip: fpdf2 reportlab pillow), groff, ghostscript, qpdf, chromium.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/shared/genai-ingest/tests/fixtures"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
cat > gen.py <<'PY'
from fpdf import FPDF
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from PIL import Image, ImageDraw
P1 = "The coolant pump must be inspected every six months. Inspectors record the pressure, the temperature and any sign of corrosion on the valves."
P2 = "Rotating equipment is lubricated weekly. A missed lubrication is reported to the shift supervisor within one day, who schedules a repair."
pdf = FPDF(); pdf.set_font("Helvetica", size=12); pdf.set_title("Maintenance handbook")
for t in (P1, P2):
    pdf.add_page(); pdf.multi_cell(0, 8, t)
pdf.output("fpdf2.pdf")
c = canvas.Canvas("reportlab.pdf", pagesize=A4)
for t in (P1, P2):
    y, line = 800, ""
    for w in t.split():
        if len(line) + len(w) > 70:
            c.drawString(50, y, line); y -= 16; line = ""
        line += w + " "
    c.drawString(50, y, line); c.showPage()
c.save()
img = Image.new("RGB", (600, 200), "white"); ImageDraw.Draw(img).text((10, 10), "scanned page text", fill="black"); img.save("scan.png")
pdf = FPDF(); pdf.add_page(); pdf.image("scan.png", x=10, y=10, w=180); pdf.output("scanned.pdf")
PY
python3 gen.py
cat > twocol.ms <<'MS'
.TL
Two column report
.2C
.PP
The first column talks about coolant pumps. The coolant pump must be inspected every six months, and inspectors record pressure and temperature readings in the log book for later review.
.PP
Valves are checked for corrosion at the same time. A corroded valve is replaced before the unit restarts, and the replacement is noted in the maintenance system.
.PP
The second column talks about lubrication. Rotating equipment is lubricated weekly, and a missed lubrication is reported to the shift supervisor within one day.
.PP
Supervisors schedule repairs and confirm them the following week. Each confirmation includes the name of the technician and the parts used during the work.
.bp
.PP
Page two starts here with a short paragraph on safety training for all new staff.
MS
groff -ms -Tpdf twocol.ms > groff-2col.pdf
groff -ms -Tps twocol.ms > twocol.ps && ps2pdf twocol.ps gs-2col.pdf
cat > cols.html <<'HTML'
<html><head><style>body{column-count:2;font-family:sans-serif}</style></head><body>
<h1>Chromium multi-column</h1>
<p>The coolant pump must be inspected every six months. Inspectors record the pressure, the temperature and any sign of corrosion on the valves.</p>
<p>Rotating equipment is lubricated weekly. A missed lubrication is reported to the shift supervisor within one day, who schedules a repair.</p>
<p>Café naïve résumé — “quotes” and ligatures: ﬁnance ﬂow office.</p>
</body></html>
HTML
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$work/chr" --no-pdf-header-footer \
  --print-to-pdf="$work/chromium-2col.pdf" "file://$work/cols.html" 2>/dev/null
qpdf --encrypt secret owner 256 -- fpdf2.pdf encrypted.pdf
qpdf --encrypt "" owner 256 -- fpdf2.pdf encrypted-no-user-password.pdf
head -c 3000 groff-2col.pdf > truncated.pdf
cp fpdf2.pdf reportlab.pdf groff-2col.pdf gs-2col.pdf chromium-2col.pdf scanned.pdf encrypted.pdf \
   encrypted-no-user-password.pdf truncated.pdf "$out/"
echo "wrote fixtures to $out"
