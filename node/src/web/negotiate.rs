//! Content negotiation (RFC 9110 12.5.1) for the pages that have a machine
//! form besides their HTML: the record page answers `application/ld+json`
//! when the client prefers it. HTML stays the default: a browser's `Accept`
//! (`text/html, …, */*;q=0.8`) and a missing or unreadable header get the
//! page.

/// Most media ranges of one `Accept` header looked at.
pub const ACCEPT_RANGES_MAX: usize = 32;

/// How much a client wants `media_type` (type/subtype, lowercase) by its
/// `Accept` header: the quality of the most specific range that matches it
/// (exact, then `type/*`, then `*/*`), 0 when none does, and whether the
/// match was exact.
fn quality(accept: &str, media_type: &str) -> (f32, bool) {
    let main_type = media_type.split('/').next().unwrap_or("");
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',').take(ACCEPT_RANGES_MAX) {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|param| {
                let (key, value) = param.split_once('=')?;
                (key.trim().eq_ignore_ascii_case("q")).then(|| value.trim().parse::<f32>().ok())?
            })
            .next()
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let specificity = if name == media_type {
            3
        } else if name.strip_suffix("/*") == Some(main_type) {
            2
        } else if name == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(seen, _)| specificity > seen) {
            best = Some((specificity, q));
        }
    }
    match best {
        Some((specificity, q)) => (q, specificity == 3),
        None => (0.0, false),
    }
}

/// Whether a request with this `Accept` header should get `machine_type`
/// instead of HTML: it wants it more than `text/html`, or as much when it
/// names it and reaches HTML only through a wildcard.
pub fn prefers(accept: Option<&str>, machine_type: &str) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let (machine_q, machine_named) = quality(accept, machine_type);
    let (html_q, html_named) = quality(accept, "text/html");
    machine_q > 0.0 && (machine_q > html_q || (machine_q == html_q && machine_named && !html_named))
}

#[cfg(test)]
mod tests {
    use super::prefers;

    fn check(accept: Option<&str>, json_ld: bool) {
        assert_eq!(
            prefers(accept, "application/ld+json"),
            json_ld,
            "Accept: {accept:?}"
        );
    }

    #[test]
    fn browsers_get_html_and_linked_data_clients_get_json_ld() {
        check(None, false);
        check(Some(""), false);
        check(Some("*/*"), false);
        check(
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            false,
        );
        check(Some("application/ld+json"), true);
        check(
            Some("Application/LD+JSON; profile=\"https://schema.org\""),
            true,
        );
        check(Some("application/ld+json, */*;q=0.1"), true);
        check(Some("application/ld+json;q=0.5, text/html"), false);
        check(Some("application/ld+json, text/html;q=0.9"), true);
        check(Some("application/ld+json;q=0, */*"), false);
        check(Some("application/*, text/html;q=0.5"), true);
        check(Some("application/ld+json, text/html"), false);
    }
}
