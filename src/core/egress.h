// The process-wide egress switch (offline mode): while it is on, no outbound connection may be
// opened. Every client that talks to the network calls `check(url)` before it starts and, when it
// is a libcurl client, also installs the socket guard of core/egress_curl.h, so a connection that
// slips past the first check (a redirect, a retry) still cannot open a socket.
//
// Thread-safe (one atomic flag); costs nothing when off.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace lm::egress {

void set_offline(bool on);
bool offline();

// Ok when online; while offline the error "offline mode: outbound connection to HOST refused".
Status check(std::string_view url);

// The host of an absolute URL ("https://user@api.example.com:443/v1?x" -> "api.example.com",
// "http://[::1]:8080/" -> "::1"); "" when the URL has no "scheme://".
std::string url_host(std::string_view url);

// A URL fit for an error message or a log line: without user info, query string and fragment
// (where API keys and tokens hide).
std::string url_for_message(std::string_view url);

}  // namespace lm::egress
