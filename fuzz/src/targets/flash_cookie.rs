//! The flash-message cookie a client sends back (`web::flash::parse`).

use steward::web::flash::parse;
use steward::web::url_encode;

/// One input of the `flash_cookie` target.
pub fn run(data: &[u8]) {
    let raw = super::text(data);
    if let Some(flash) = parse(&raw) {
        assert!(["success", "info", "error"].contains(&flash.kind));
        assert!(flash.message.chars().count() <= 300);
    }
    // What Steward writes, it reads back.
    for kind in ["success", "info", "error"] {
        let written = url_encode(&format!("{kind}:{raw}"));
        let read = parse(&written).expect("a cookie Steward wrote");
        assert_eq!(read.kind, kind);
        assert_eq!(read.message, raw.chars().take(300).collect::<String>());
    }
}
