// client_watch: finding a connection's socket by its addresses, and noticing the peer's close.
#include "server/client_watch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace lm::server {
namespace {

int port_of(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  EXPECT_EQ(rc, 0);
  return ntohs(a.sin_port);
}

// A loopback TCP connection: the server side (accepted) and the client side.
struct Connection {
  int listener = -1, server = -1, client = -1;
  Connection() {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(listener, 4), 0);
    a.sin_port = htons(static_cast<uint16_t>(port_of(listener, false)));
    client = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    server = accept(listener, nullptr, nullptr);
    EXPECT_GE(server, 0);
  }
  ~Connection() {
    for (int fd : {listener, server, client})
      if (fd >= 0) close(fd);
  }
};

TEST(ClientWatch, FindsTheAcceptedSocketByItsAddresses) {
  Connection c;
  const int client_port = port_of(c.client, false), server_port = port_of(c.server, false);
  EXPECT_EQ(find_connection_fd("127.0.0.1", client_port, "127.0.0.1", server_port), c.server);
  EXPECT_EQ(find_connection_fd("127.0.0.1", client_port, "", server_port), c.server);
  // The client's own socket has the addresses the other way round.
  EXPECT_EQ(find_connection_fd("127.0.0.1", server_port, "127.0.0.1", client_port), c.client);
  EXPECT_EQ(find_connection_fd("127.0.0.2", client_port, "127.0.0.1", server_port), -1);
  EXPECT_EQ(find_connection_fd("127.0.0.1", client_port, "127.0.0.1", server_port + 1), -1);
  EXPECT_EQ(find_connection_fd("127.0.0.1", -1, "127.0.0.1", server_port), -1);
}

TEST(ClientWatch, PeerClosedOnlyAfterTheClientCloses) {
  Connection c;
  EXPECT_FALSE(peer_closed(c.server));
  // Pipelined bytes waiting to be read are a live client, and peeking does not consume them.
  ASSERT_EQ(write(c.client, "GET", 3), 3);
  usleep(20000);
  EXPECT_FALSE(peer_closed(c.server));
  EXPECT_FALSE(peer_closed(c.server));
  char buf[3];
  ASSERT_EQ(read(c.server, buf, 3), 3);
  close(c.client);
  c.client = -1;
  usleep(20000);
  EXPECT_TRUE(peer_closed(c.server));
}

TEST(ClientWatch, WithoutARequestOnThisThreadNothingIsWatched) {
  ClientWatch w;
  EXPECT_FALSE(w.watching());
  EXPECT_FALSE(w.gone());
}

}  // namespace
}  // namespace lm::server
