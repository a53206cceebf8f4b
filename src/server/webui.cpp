// GET / and the UI's assets: see webui.h.
#include "server/webui.h"

#include <fmt/format.h>

#include <cstdint>

#include "server/server_context.h"

namespace lm::server {
namespace {

// 'self' only: scripts, styles, fetch() and images come from this server; no inline script or
// style, no plugins, no framing, no <base> tricks, no form posts anywhere.
constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'none'";

const EmbeddedFile* find_asset(std::string_view path) {
  if (path == "/") path = "/index.html";
  if (path.size() < 2 || path[0] != '/') return nullptr;
  std::string_view name = path.substr(1);
  for (const EmbeddedFile& f : webui_assets()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

void serve_asset(const EmbeddedFile& f, const std::string& etag, const httplib::Request& req,
                 httplib::Response& res) {
  res.set_header("Content-Security-Policy", kCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
  res.set_header("ETag", etag);
  // If-None-Match may list several tags ("a", "b") or be "*".
  std::string inm = req.get_header_value("If-None-Match");
  if (!inm.empty() && (inm == "*" || inm.find(etag) != std::string::npos)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(f.data, f.size, webui_content_type(f.name));
}

}  // namespace

bool is_webui_path(std::string_view path) { return find_asset(path) != nullptr; }

std::string webui_content_type(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".json")) return "application/json";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

std::string webui_etag(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;   // FNV-1a, 64-bit
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("\"{:016x}-{:x}\"", h, bytes.size());
}

void add_webui(httplib::Server& http, ServerContext& ctx) {
  for (const EmbeddedFile& f : webui_assets()) {
    std::string etag = webui_etag(std::string_view(f.data, f.size));
    auto handler = [&f, etag](const httplib::Request& req, httplib::Response& res) {
      serve_asset(f, etag, req, res);
    };
    std::string pattern = "/";   // httplib patterns are regexes: escape the dots
    for (char c : std::string_view(f.name)) pattern += c == '.' ? std::string("\\.") : std::string(1, c);
    if (std::string_view(f.name) == "index.html") http.Get("/", handler);
    http.Get(pattern, handler);
  }
}

}  // namespace lm::server
