// The egress guard for libcurl handles: a CURLOPT_OPENSOCKETFUNCTION that refuses every socket
// while offline mode is on (core/egress.h). Header-only so that lm_core itself does not link
// libcurl: only the modules that use curl (lm_store, lm_router) include it.
#pragma once

#include <curl/curl.h>
#include <sys/socket.h>

#include "core/egress.h"

namespace lm::egress {

// Opens the socket curl asks for, or refuses it (CURL_SOCKET_BAD) while offline. curl then fails
// the transfer with CURLE_COULDNT_CONNECT without a packet having left.
inline curl_socket_t curl_open_socket(void* /*clientp*/, curlsocktype /*purpose*/, curl_sockaddr* addr) {
  if (offline()) return CURL_SOCKET_BAD;
  return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

// Installs the guard on a handle (call again after curl_easy_reset).
inline void guard_curl(CURL* curl) {
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, curl_open_socket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, nullptr);
}

}  // namespace lm::egress
