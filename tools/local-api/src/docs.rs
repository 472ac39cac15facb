//! The API reference on the local API: `GET /docs/` (Swagger UI, its assets installed by the
//! project's own step `scripts/docs-assets.sh` from the npm registry, never a CDN),
//! `GET /openapi.yaml` and `GET /openapi.json`. `make docs` writes the same as a static folder.
//! The deployed API serves no docs.

use std::path::{Path, PathBuf};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::StatusCode;

/// The contract, as committed beside the template.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");
const INDEX_HTML: &str = include_str!("../../../reference/index.html");
const DOCS_JS: &str = include_str!("../../../reference/docs.js");

/// The renderer's files the page loads, with their media types.
pub const ASSETS: &[(&str, &str)] = &[
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("favicon-32x32.png", "image/png"),
];

/// Where `scripts/docs-assets.sh` installs the renderer (`DOCS_ASSETS` overrides it).
pub fn assets_dir() -> PathBuf {
    std::env::var_os("DOCS_ASSETS").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../reference/node_modules/swagger-ui-dist")
        },
        PathBuf::from,
    )
}

/// The contract as JSON; `server`, when given, replaces its servers (the local API it runs on,
/// so try-it requests go there).
pub fn openapi_json(server: Option<&str>) -> Result<String, String> {
    let mut spec: serde_json::Value =
        serde_yaml::from_str(OPENAPI_YAML).map_err(|e| format!("openapi.yaml: {e}"))?;
    if let Some(url) = server {
        spec["servers"] = serde_json::json!([{"url": url, "description": "This local API"}]);
    }
    serde_json::to_string_pretty(&spec).map_err(|e| e.to_string())
}

type HttpResponse = hyper::Response<Full<Bytes>>;

/// What the reference page may load: its own scripts, styles and images from this server, the
/// inline styles Swagger UI sets on its elements, and requests to this server (try it).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

fn respond(status: StatusCode, media: &str, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let csp = if media.starts_with("text/html") {
        PAGE_CSP
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (CONTENT_TYPE, media),
        (CACHE_CONTROL, "no-cache"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "no-referrer"),
        (CONTENT_SECURITY_POLICY, csp),
    ] {
        if let Ok(v) = value.parse() {
            headers.insert(name, v);
        }
    }
    response
}

/// The docs' answer to `GET path`, or `None` when the path is the API's.
pub fn serve(path: &str, host: Option<&str>) -> Option<HttpResponse> {
    let json = |server: Option<String>| match openapi_json(server.as_deref()) {
        Ok(text) => respond(StatusCode::OK, "application/json", text),
        Err(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", e),
    };
    let here = host.map(|h| format!("http://{h}"));
    Some(match path {
        "/docs" => {
            let mut r = respond(StatusCode::PERMANENT_REDIRECT, "text/plain", "");
            if let Ok(v) = "/docs/".parse() {
                r.headers_mut().insert(LOCATION, v);
            }
            r
        }
        "/docs/" => respond(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML),
        "/docs/docs.js" => respond(StatusCode::OK, "text/javascript; charset=utf-8", DOCS_JS),
        "/openapi.json" | "/docs/openapi.json" => json(here),
        "/openapi.yaml" => respond(StatusCode::OK, "application/yaml", OPENAPI_YAML),
        _ => {
            let name = path.strip_prefix("/docs/assets/")?;
            let (file, media) = ASSETS.iter().find(|(f, _)| *f == name)?;
            match std::fs::read(assets_dir().join(file)) {
                Ok(bytes) => respond(StatusCode::OK, media, bytes),
                Err(_) => respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    "The reference's renderer is not installed: run scripts/docs-assets.sh (make run does).",
                ),
            }
        }
    })
}

/// Writes the reference as a static folder that any web server can host: `index.html`,
/// `docs.js`, `openapi.json`, `openapi.yaml` and `assets/`.
pub fn write_static(dir: &Path) -> Result<(), String> {
    let assets = dir.join("assets");
    std::fs::create_dir_all(&assets).map_err(|e| format!("{}: {e}", assets.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))
    };
    write("index.html", INDEX_HTML.as_bytes())?;
    write("docs.js", DOCS_JS.as_bytes())?;
    write("openapi.yaml", OPENAPI_YAML.as_bytes())?;
    write("openapi.json", openapi_json(None)?.as_bytes())?;
    for (file, _) in ASSETS {
        let from = assets_dir().join(file);
        std::fs::copy(&from, assets.join(file))
            .map_err(|e| format!("{}: {e} (run scripts/docs-assets.sh first)", from.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every answer of the reference carries the headers every API answer carries, and the
    /// page a policy that lets it load only from this server.
    #[test]
    fn every_docs_answer_carries_the_security_headers() {
        for path in [
            "/docs",
            "/docs/",
            "/docs/docs.js",
            "/openapi.json",
            "/openapi.yaml",
            "/docs/assets/swagger-ui.css",
        ] {
            let answer = serve(path, Some("127.0.0.1:3000")).unwrap();
            let h = answer.headers();
            assert_eq!(h[X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
            assert_eq!(h[X_FRAME_OPTIONS], "DENY", "{path}");
            let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(
                csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
                "{path}: {csp}"
            );
        }
        let page = serve("/docs/", None).unwrap();
        let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe"),
            "{csp}"
        );
    }
}
