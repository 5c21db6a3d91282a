#include "etcd/endpoints.h"

#include <gtest/gtest.h>

#include "etcd/etcd_client.h"

namespace hb::etcd {
namespace {

TEST(EndpointsTest, ParsesListsWithAndWithoutSchemes) {
  auto endpoints = ParseEndpoints("127.0.0.1:2379, https://etcd-1.example:2379/,http://[::1]:2380");
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  ASSERT_EQ(endpoints->size(), 3u);
  EXPECT_EQ((*endpoints)[0].host_port, "127.0.0.1:2379");
  EXPECT_FALSE((*endpoints)[0].https);
  EXPECT_EQ((*endpoints)[1].host_port, "etcd-1.example:2379");
  EXPECT_TRUE((*endpoints)[1].https);
  EXPECT_EQ((*endpoints)[2].host_port, "[::1]:2380");
}

TEST(EndpointsTest, RejectsWhatCannotBeDialled) {
  for (const char* bad :
       {"", "localhost", "localhost:", ":2379", "host:99999", "host:abc", "http://host:1/path"}) {
    auto endpoints = ParseEndpoints(bad);
    EXPECT_FALSE(endpoints.ok()) << bad;
  }
  auto error = ParseEndpoints("a:1,oops");
  EXPECT_NE(error.status().message().find("\"oops\""), std::string::npos);
}

TEST(EndpointsTest, TlsIsImpliedByHttpsOrCertificates) {
  ClientOptions options;
  options.endpoints = *ParseEndpoints("a:1");
  EXPECT_FALSE(options.UseTls());
  options.ca_file = "/ca.pem";
  EXPECT_TRUE(options.UseTls());
  options.ca_file.clear();
  options.endpoints = *ParseEndpoints("https://a:1");
  EXPECT_TRUE(options.UseTls());
}

TEST(PrefixEndTest, MatchesEtcdsRule) {
  EXPECT_EQ(PrefixEnd("/chora/"), "/chora0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
}

}  // namespace
}  // namespace hb::etcd
