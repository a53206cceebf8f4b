// Offline mode reaches lm_store's downloads too: `localmax pull` fails with a clear message and
// the hub on loopback receives nothing.
#include <gtest/gtest.h>

#include "core/egress.h"
#include "store/http.h"
#include "store/pull.h"
#include "test_upstream_server.h"
#include "test_util.h"

namespace lm::router {
namespace {

TEST(UpstreamOffline, StoreDownloadsAreRefused) {
  test::UpstreamServer hub([](const httplib::Request&, httplib::Response& res, int) {
    res.set_content(R"({"sha":"0123","siblings":[]})", "application/json");
  });
  egress::set_offline(true);
  store::HttpRequest req;
  req.url = hub.url() + "/api/models/org/repo/revision/main?blobs=true";
  store::TransportError te;
  auto resp = store::http_get(req, store::Sink(), store::Progress(), &te);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().message(), "offline mode: outbound connection to 127.0.0.1 refused");
  EXPECT_TRUE(te.connect_failed);

  store::Store st(test::temp_path("offline-store"));
  store::PullOptions opts;
  opts.endpoint = hub.url();
  opts.retries = 0;
  auto ref = store::parse_pull_ref("org/repo");
  ASSERT_TRUE(ref.ok()) << ref.error().message();
  auto pulled = store::pull(st, *ref, opts);
  egress::set_offline(false);
  ASSERT_FALSE(pulled.ok());
  EXPECT_NE(pulled.error().message().find("offline mode: outbound connection to 127.0.0.1 refused"), std::string::npos)
      << pulled.error().message();
  EXPECT_EQ(hub.count(), 0);

  // Online again, the same request reaches the hub.
  auto again = store::http_get(req, store::Sink(), store::Progress(), &te);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(hub.count(), 1);
}

}  // namespace
}  // namespace lm::router
