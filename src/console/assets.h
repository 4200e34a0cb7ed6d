// The web console's static files (web/ at build time), compiled into the binary by
// cmake/embed_assets.cmake, and how they are served: lookup by path, Content-Type by extension,
// ETag revalidation (If-None-Match -> 304) and the security headers every page carries.
#pragma once

#include "http/server.h"

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pf::console {

struct EmbeddedAsset {
    std::string_view path;  // relative to web/: "index.html", "assets/app.js"
    std::string_view etag;  // quoted, strong: "\"<first 128 bits of SHA-256, hex>\""
    std::string_view body;
};

// Defined in the generated console_assets_data.cc (empty when web/ was empty).
std::span<const EmbeddedAsset> embedded_assets();

// Looks `path` up in `assets` (exact match); nullptr when absent.
const EmbeddedAsset* find_asset(std::span<const EmbeddedAsset> assets, std::string_view path);

// "text/javascript; charset=utf-8" for "a/b.js", ...; application/octet-stream when unknown.
std::string_view content_type_for(std::string_view path);

// Headers every console page and asset carries: CSP (same origin only, no framing), nosniff,
// no referrer.
std::vector<std::pair<std::string, std::string>> security_headers();

// Whether an If-None-Match header value names `etag` (a list, "*", weak W/ forms).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// Answers GET/HEAD of one asset: 200 with the bytes, or 304 when the client's copy is current.
void serve_asset(const http::Request& request, const EmbeddedAsset& asset,
                 http::Response& response);

// The page served when the build had no web/index.html.
void serve_missing_assets_page(const http::Request& request, http::Response& response);

}  // namespace pf::console
