//! Static assets, embedded in the binary and served under a content-hashed name so browsers may cache them
//! for a year.

use std::sync::LazyLock;

use actix_web::http::header::{self, CacheDirective};
use actix_web::{web, HttpResponse};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[Asset {
    name: "steward.css",
    content_type: "text/css; charset=utf-8",
    bytes: include_bytes!("static/steward.css"),
}];

/// Each asset's public file name, `steward.3f2a91c0.css`, fixed for the life of the binary.
static HASHED: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = Sha256::digest(a.bytes);
            let short = hex::encode(&digest[..4]);
            match a.name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{short}.{ext}"),
                None => format!("{}.{short}", a.name),
            }
        })
        .collect()
});

pub fn stylesheet_path() -> String {
    format!("/static/{}", HASHED[0])
}

/// Serves `/static/{name}`.
pub async fn serve(name: web::Path<String>) -> HttpResponse {
    match HASHED.iter().position(|h| *h == *name) {
        Some(i) => HttpResponse::Ok()
            .content_type(ASSETS[i].content_type)
            .insert_header(header::CacheControl(vec![
                CacheDirective::Public,
                CacheDirective::MaxAge(31_536_000),
                CacheDirective::Extension("immutable".into(), None),
            ]))
            .body(ASSETS[i].bytes),
        None => HttpResponse::NotFound().finish(),
    }
}
