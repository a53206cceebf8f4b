#include "server/client_watch.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <httplib.h>

#include <cerrno>
#include <cstdlib>

namespace lm::server {
namespace {

struct ClientAddress {
  bool set = false;
  std::string peer_addr, local_addr;
  int peer_port = -1, local_port = -1;
};

thread_local ClientAddress t_client;

// The numeric host and port of a socket address, spelled as cpp-httplib spells
// Request::remote_addr (getnameinfo with NI_NUMERICHOST).
bool host_and_port(const sockaddr_storage& ss, socklen_t len, std::string* host, int* port) {
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, h, sizeof h, s, sizeof s,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  *host = h;
  *port = std::atoi(s);
  return true;
}

bool is_connection(int fd, const std::string& peer_addr, int peer_port, const std::string& local_addr,
                   int local_port) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  std::string host;
  int port = -1;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  if (!host_and_port(ss, len, &host, &port) || port != peer_port || host != peer_addr) return false;
  len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  if (!host_and_port(ss, len, &host, &port) || port != local_port) return false;
  return local_addr.empty() || host == local_addr;
}

}  // namespace

void remember_client(const httplib::Request& req) {
  t_client.set = true;
  t_client.peer_addr = req.remote_addr;
  t_client.peer_port = req.remote_port;
  t_client.local_addr = req.local_addr;
  t_client.local_port = req.local_port;
}

int find_connection_fd(const std::string& peer_addr, int peer_port, const std::string& local_addr,
                       int local_port) {
  if (peer_port <= 0 || local_port <= 0) return -1;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    if (is_connection(static_cast<int>(fd), peer_addr, peer_port, local_addr, local_port)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

bool peer_closed(int fd) {
  pollfd p{fd, POLLIN, 0};
  int n = poll(&p, 1, 0);
  if (n < 0) return errno != EINTR;
  if (n == 0) return false;   // nothing to read: still connected
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return true;
  // Readable: either the next pipelined request (alive) or EOF (closed).
  char c = 0;
  ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r > 0) return false;
  if (r == 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

ClientWatch::ClientWatch() {
  if (!t_client.set) return;
  fd_ = find_connection_fd(t_client.peer_addr, t_client.peer_port, t_client.local_addr,
                           t_client.local_port);
}

bool ClientWatch::gone() { return fd_ >= 0 && peer_closed(fd_); }

}  // namespace lm::server
