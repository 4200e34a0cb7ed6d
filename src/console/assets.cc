#include "console/assets.h"

#include <algorithm>
#include <array>

namespace pf::console {

const EmbeddedAsset* find_asset(std::span<const EmbeddedAsset> assets, std::string_view path) {
    auto it = std::find_if(assets.begin(), assets.end(),
                           [&](const EmbeddedAsset& asset) { return asset.path == path; });
    return it == assets.end() ? nullptr : &*it;
}

std::string_view content_type_for(std::string_view path) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 13> kTypes{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".webp", "image/webp"},
        {".jpg", "image/jpeg"},
    }};
    auto slash = path.rfind('/');
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    auto dot = name.rfind('.');
    if (dot != std::string_view::npos) {
        std::string_view extension = name.substr(dot);
        for (const auto& [known, type] : kTypes) {
            if (extension == known) {
                return type;
            }
        }
    }
    return "application/octet-stream";
}

std::vector<std::pair<std::string, std::string>> security_headers() {
    return {{"Content-Security-Policy",
             "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
             "style-src 'self'; script-src 'self'; frame-ancestors 'none'"},
            {"X-Content-Type-Options", "nosniff"},
            {"Referrer-Policy", "no-referrer"}};
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    auto trim = [](std::string_view text) {
        while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
            text.remove_prefix(1);
        }
        while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
            text.remove_suffix(1);
        }
        return text;
    };
    // If-None-Match uses the weak comparison: W/"x" matches "x".
    auto strip_weak = [](std::string_view tag) {
        return tag.starts_with("W/") ? tag.substr(2) : tag;
    };
    while (!if_none_match.empty()) {
        auto comma = if_none_match.find(',');
        std::string_view item = trim(if_none_match.substr(0, comma));
        if (item == "*" || (!item.empty() && strip_weak(item) == strip_weak(etag))) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        if_none_match.remove_prefix(comma + 1);
    }
    return false;
}

void serve_asset(const http::Request& request, const EmbeddedAsset& asset,
                 http::Response& response) {
    auto headers = security_headers();
    headers.emplace_back("ETag", std::string(asset.etag));
    // no-cache: the browser keeps the file but asks each time; a new build answers 200.
    headers.emplace_back("Cache-Control", "no-cache");
    if (auto tag = request.header("if-none-match"); tag && etag_matches(*tag, asset.etag)) {
        (void)response.start(304, std::move(headers), 0);
        return;
    }
    headers.emplace_back("Content-Type", std::string(content_type_for(asset.path)));
    if (!response.start(200, std::move(headers), asset.body.size())) {
        return;
    }
    if (request.method != "HEAD") {
        (void)response.write(asset.body);
    }
}

void serve_missing_assets_page(const http::Request& request, http::Response& response) {
    static constexpr std::string_view kPage =
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Photoflux console</title></head><body><h1>Photoflux console</h1>"
        "<p>The console assets are missing: this binary was built without web/index.html."
        "</p></body></html>\n";
    auto headers = security_headers();
    headers.emplace_back("Content-Type", "text/html; charset=utf-8");
    headers.emplace_back("Cache-Control", "no-store");
    if (!response.start(200, std::move(headers), kPage.size())) {
        return;
    }
    if (request.method != "HEAD") {
        (void)response.write(kPage);
    }
}

}  // namespace pf::console
