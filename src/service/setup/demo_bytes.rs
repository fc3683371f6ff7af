//! The demo attachments' bytes: real files of their declared type, about the size asked for,
//! made the same on every start (a PNG of a colour gradient, a one-page PDF, lines of text
//! or CSV). No compression library is needed: the PNG's pixels go into stored (uncompressed)
//! deflate blocks.

/// About `target` bytes of a file of `content_type` titled `title`.
pub(super) fn demo_file(title: &str, content_type: &str, target: usize) -> Vec<u8> {
    match content_type {
        "image/png" => png(target),
        "application/pdf" => pdf(title, target),
        "text/csv" => lines(target, "n,square\n", |n| format!("{n},{}\n", n * n)),
        _ => lines(target, "", |n| {
            format!("{title}, line {n}: a demo file of Keepsake's\n")
        }),
    }
}

/// A header, then lines from `line(1)`, `line(2)`, … until `target` bytes are reached.
fn lines(target: usize, header: &str, line: impl Fn(usize) -> String) -> Vec<u8> {
    let mut text = header.to_owned();
    let mut n = 1;
    while text.len() < target {
        text.push_str(&line(n));
        n += 1;
    }
    text.into_bytes()
}

/// A square RGB PNG of about `target` bytes: a gradient, stored without compression.
fn png(target: usize) -> Vec<u8> {
    let side = ((target / 3) as f64).sqrt().max(1.0) as u32;
    let mut raw = Vec::with_capacity((1 + 3 * side as usize) * side as usize);
    for y in 0..side {
        raw.push(0); // filter: none
        for x in 0..side {
            raw.extend([x as u8, y as u8, (x ^ y) as u8]);
        }
    }
    // zlib: header, stored deflate blocks of at most 65,535 bytes, Adler-32.
    let mut zlib = vec![0x78, 0x01];
    let blocks = raw.chunks(65_535).count();
    for (i, block) in raw.chunks(65_535).enumerate() {
        let len = block.len() as u16;
        zlib.push(u8::from(i + 1 == blocks));
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend(block);
    }
    zlib.extend(adler32(&raw).to_be_bytes());
    let mut header = Vec::with_capacity(13);
    header.extend(side.to_be_bytes());
    header.extend(side.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter choice, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", header), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(&data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1_u32, 0_u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// A one-page PDF of about `target` bytes showing `title`; its content stream is padded with
/// more lines of text to reach the size.
fn pdf(title: &str, target: usize) -> Vec<u8> {
    let title: String = title.chars().filter(|c| !"()\\".contains(*c)).collect();
    let mut content = format!("BT /F1 18 Tf 72 720 Td ({title}) Tj ET\n");
    let mut n = 0;
    while content.len() + 600 < target {
        n += 1;
        let y = 700 - (n % 60) * 10;
        content.push_str(&format!(
            "BT /F1 8 Tf 72 {y} Td (Keepsake demo, line {n}) Tj ET\n"
        ));
    }
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{object}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        out.push_str(&format!("{offset:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_what_they_say_and_about_the_size_asked() {
        for (kind, target) in [
            ("image/png", 90_211),
            ("application/pdf", 482_113),
            ("text/plain", 4_096),
            ("text/csv", 77_760),
        ] {
            let bytes = demo_file("demo", kind, target);
            let off = bytes.len().abs_diff(target);
            assert!(
                off * 20 < target,
                "{kind}: {} bytes for {target}",
                bytes.len()
            );
            assert_eq!(
                bytes,
                demo_file("demo", kind, target),
                "{kind}: the same each time"
            );
        }
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert!(demo_file("demo", "application/pdf", 1_000).ends_with(b"%%EOF\n"));
    }
}
