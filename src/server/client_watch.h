// Noticing a client that has gone away while its non-streaming response is being generated.
//
// Streamed responses notice it when a write fails or DataSink::is_writable turns false. A whole
// response is written only at the end, and cpp-httplib 0.11 (Debian 12) gives a handler neither
// its connection's socket nor a "connection closed" test. So the pre-routing handler remembers
// the connection's addresses (remember_client, per worker thread: cpp-httplib runs a request's
// handlers on the thread that read it), and a ClientWatch made later on that thread finds the
// socket among the process's descriptors (the one whose peer and local addresses match; the
// connection stays open until the handler returns, so the descriptor cannot be reused meanwhile)
// and polls it: readable with nothing to read (EOF), hung up or in error means the client is gone
// (as with cpp-httplib's own liveness test, a client that only shuts down its sending side after
// the request, e.g. `nc -N`, counts as gone too).
//
// Thread-safety: a ClientWatch belongs to the thread that made it. Cost: finding the socket scans
// /proc/self/fd once (a few dozen entries); gone() is one poll() and at most one recv(MSG_PEEK).
#pragma once

#include <string>

namespace httplib {
struct Request;
}

namespace lm::server {

// Called by the pre-routing handler for every request.
void remember_client(const httplib::Request& req);

class ClientWatch {
 public:
  // Watches the connection of the request the calling thread is handling, if any.
  ClientWatch();
  // True once the peer has closed the connection (or it failed). False when the socket was not
  // found (no request on this thread, a non-TCP transport): such a client is never cancelled.
  bool gone();
  bool watching() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The descriptor of the TCP connection between peer (addr, port) and local (addr, port), or -1.
// Exposed for tests.
int find_connection_fd(const std::string& peer_addr, int peer_port, const std::string& local_addr,
                       int local_port);
// poll() + recv(MSG_PEEK) on a connected socket: true when the peer has closed it.
bool peer_closed(int fd);

}  // namespace lm::server
