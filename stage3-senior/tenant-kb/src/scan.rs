//! A page of text as a scanner makes it: lines drawn into a grey bitmap with a TrueType font,
//! wrapped in a one-page PDF with no text layer. The OCR test and the OCR benchmark use it to
//! make scans whose true text is known.

use pdf_extract::{Dictionary, Document, Object, Stream};
use std::path::Path;

/// Where Debian's fonts-dejavu-core puts DejaVu Sans.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// An 8-bit grey image, row by row, 0 black and 255 white.
#[derive(Debug, Clone)]
pub struct Bitmap {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScanError(String);

/// Lines of text drawn into an 8-bit grey bitmap with DejaVu Sans, as a scanner would see them.
pub fn render(lines: &[&str], font: &Path) -> Result<Bitmap, ScanError> {
    use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
    let data = std::fs::read(font)
        .map_err(|e| ScanError(format!("{} (apt install fonts-dejavu-core): {e}", font.display())))?;
    let font = FontRef::try_from_slice(&data).map_err(|e| ScanError(format!("not a font: {e}")))?;
    let scale = PxScale::from(36.0);
    let scaled = font.as_scaled(scale);
    let (w, h) = (1300usize, 80 + lines.len() * 56);
    let mut px = vec![255u8; w * h];
    for (li, line) in lines.iter().enumerate() {
        let (mut x, y) = (40.0f32, 70.0 + li as f32 * 56.0);
        for c in line.chars() {
            let id = scaled.glyph_id(c);
            let glyph = id.with_scale_and_position(scale, point(x, y));
            x += scaled.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else { continue };
            let b = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let (px_x, px_y) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                if (0..w as i64).contains(&px_x) && (0..h as i64).contains(&px_y) {
                    let i = px_y as usize * w + px_x as usize;
                    px[i] = px[i].min((255.0 * (1.0 - coverage)) as u8);
                }
            });
        }
    }
    Ok(Bitmap { width: w, height: h, pixels: px })
}

/// A one-page PDF whose only content is that bitmap (Flate-compressed): no text layer at all.
pub fn image_only_pdf(bitmap: Bitmap) -> Vec<u8> {
    let Bitmap { width: w, height: h, pixels } = bitmap;
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut image_dict = Dictionary::new();
    for (k, v) in [("Type", Object::Name(b"XObject".to_vec())), ("Subtype", Object::Name(b"Image".to_vec()))] {
        image_dict.set(k, v);
    }
    image_dict.set("Width", w as i64);
    image_dict.set("Height", h as i64);
    image_dict.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
    image_dict.set("BitsPerComponent", 8);
    let mut image = Stream::new(image_dict, pixels);
    // An uncompressed stream is still a valid PDF if compression fails.
    let _ = image.compress();
    let image_id = doc.add_object(image);
    let (pw, ph) = (w as f32 * 0.5, h as f32 * 0.5);
    let content = Stream::new(Dictionary::new(), format!("q {pw} 0 0 {ph} 0 0 cm /Im0 Do Q").into_bytes());
    let content_id = doc.add_object(content);
    let mut xobjects = Dictionary::new();
    xobjects.set("Im0", image_id);
    let mut resources = Dictionary::new();
    resources.set("XObject", xobjects);
    let mut page = Dictionary::new();
    page.set("Type", Object::Name(b"Page".to_vec()));
    page.set("Parent", pages_id);
    page.set("Contents", content_id);
    page.set("Resources", resources);
    page.set("MediaBox", vec![0.into(), 0.into(), pw.into(), ph.into()]);
    let page_id = doc.add_object(page);
    let mut pages = Dictionary::new();
    pages.set("Type", Object::Name(b"Pages".to_vec()));
    pages.set("Kids", vec![page_id.into()]);
    pages.set("Count", 1);
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", pages_id);
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    // Writing into memory only fails on an I/O error, which a Vec never gives.
    let _ = doc.save_to(&mut out);
    out
}
