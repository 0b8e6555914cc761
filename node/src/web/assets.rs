//! Static assets (CSS, JS, icon) compiled into the binary and served under a
//! URL that contains a hash of their content, so browsers may cache them for
//! a year: a new release changes the hash and therefore the URL.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// How long a browser may keep a versioned asset.
pub const ASSET_CACHE_SECS_MAX: u64 = 365 * 24 * 3600;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "site.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/site.css"),
    },
    Asset {
        name: "site.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/site.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../assets/icon.svg"),
    },
];

/// The first 12 hex digits of the SHA-256 of all assets.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hasher = Sha256::new();
    for asset in ASSETS {
        hasher.update(asset.name.as_bytes());
        hasher.update([0]);
        hasher.update(asset.body);
    }
    hex::encode(hasher.finalize())[..12].to_string()
});

/// The URL path of an asset, including the content version.
pub fn url(name: &str) -> String {
    format!("/assets/{}/{name}", VERSION.as_str())
}

/// Serves an asset. A request for another version (a page cached from an
/// older release) still gets the current file, but without long caching.
pub async fn serve(Path((version, name)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cache = if version == *VERSION {
        format!("public, max-age={ASSET_CACHE_SECS_MAX}, immutable")
    } else {
        "no-cache".to_string()
    };
    (
        [
            (CONTENT_TYPE, asset.content_type.to_string()),
            (CACHE_CONTROL, cache),
        ],
        asset.body,
    )
        .into_response()
}
