// The browser chat UI served at "/" (src/server/webui/*, embedded into the binary at build time by
// cmake/embed_files.cmake; no CDN, no external fonts: everything comes from this server).
//
// Every asset is served with its Content-Type, a strict Content-Security-Policy (default-src
// 'self'), an ETag (If-None-Match → 304) and Cache-Control: no-cache (revalidate, so a new binary's
// UI is never stale). The static files need no API key; the UI asks for one and sends it as Bearer.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace httplib {
class Server;
}

namespace lm::server {

struct ServerContext;

struct EmbeddedFile {
  const char* name;   // file name in src/server/webui/, e.g. "app.js"
  const char* data;   // size bytes, then one 0 byte (not counted in size)
  size_t size;
};

// The embedded assets (defined in the generated webui_assets.cpp); static storage.
std::span<const EmbeddedFile> webui_assets();

// Whether a URL path names an asset ("/" is index.html, "/<name>" any other file).
bool is_webui_path(std::string_view path);
// Content-Type for a file name, by extension.
std::string webui_content_type(std::string_view name);
// Strong ETag of the bytes (quoted hex of a 64-bit FNV-1a hash).
std::string webui_etag(std::string_view bytes);

// Registers GET "/" and GET "/<asset>" (the caller decides whether the UI is enabled).
void add_webui(httplib::Server& http, ServerContext& ctx);

}  // namespace lm::server
