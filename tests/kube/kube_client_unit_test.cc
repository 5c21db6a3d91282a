// The pieces of the Kubernetes client that need no server: paths, queries, error mapping,
// the watch stream decoder, cancellation, token refresh and TLS material checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "kube/client.h"
#include "kube/errors.h"
#include "kube/http_transport.h"
#include "kube/rest_client.h"
#include "kube/tls.h"
#include "kube/token_source.h"
#include "kube/watch_decoder.h"
#include "support/process.h"
#include "test_certificates.h"

namespace hb::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const ResourceRef kConfigMaps{"", "v1", "configmaps", "default"};
const ResourceRef kWidgets{"example.dev", "v1", "widgets", "team-a"};
const ResourceRef kNamespaces{"", "v1", "namespaces", ""};

TEST(ResourcePathTest, CoreGroupedNamespacedAndClusterScoped) {
  EXPECT_EQ(*ResourcePath(kConfigMaps), "/api/v1/namespaces/default/configmaps");
  EXPECT_EQ(*ResourcePath(kConfigMaps, "cm1"), "/api/v1/namespaces/default/configmaps/cm1");
  EXPECT_EQ(*ResourcePath(kWidgets, "w", "status"),
            "/apis/example.dev/v1/namespaces/team-a/widgets/w/status");
  EXPECT_EQ(*ResourcePath(kWidgets.InNamespace("")), "/apis/example.dev/v1/widgets");
  EXPECT_EQ(*ResourcePath(kNamespaces, "kube-system"), "/api/v1/namespaces/kube-system");
  EXPECT_EQ(*ResourcePath(ResourceRef{"rbac.authorization.k8s.io", "v1", "clusterroles", ""},
                          "system:controller:x"),
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:x");
  EXPECT_EQ(kWidgets.ApiVersion(), "example.dev/v1");
  EXPECT_EQ(kConfigMaps.ApiVersion(), "v1");
}

TEST(ResourcePathTest, RejectsBadSegments) {
  EXPECT_FALSE(ResourcePath(kConfigMaps, "a/b").ok());
  EXPECT_FALSE(ResourcePath(kConfigMaps, "..").ok());
  EXPECT_FALSE(ResourcePath(kConfigMaps, "", "status").ok());
  EXPECT_FALSE(ResourcePath(ResourceRef{"", "", "pods", ""}).ok());
  EXPECT_FALSE(ResourcePath(ResourceRef{"", "v1", "", ""}).ok());
  EXPECT_EQ(*ResourcePath(kConfigMaps, "a b"), "/api/v1/namespaces/default/configmaps/a%20b");
}

TEST(EncodeQueryTest, EncodesAndSkipsEmptyValues) {
  EXPECT_EQ(EncodeQuery({{"labelSelector", "app=x,tier in (a,b)"}, {"limit", ""}, {"w", "1"}}),
            "?labelSelector=app%3Dx%2Ctier%20in%20%28a%2Cb%29&w=1");
  EXPECT_EQ(EncodeQuery({{"a", ""}}), "");
}

TEST(ErrorsTest, HttpStatusesMapToPredicates) {
  auto notfound = StatusFromHttp(
      "GET /api/v1/namespaces/d/configmaps/x", 404,
      R"({"kind":"Status","status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","code":404})",
      "");
  EXPECT_TRUE(kube::IsNotFound(notfound));
  EXPECT_THAT(std::string(notfound.message()),
              HasSubstr("GET /api/v1/namespaces/d/configmaps/x: 404"));
  EXPECT_THAT(std::string(notfound.message()), HasSubstr("configmaps \"x\" not found"));
  EXPECT_FALSE(IsRetryable(notfound));

  auto exists = StatusFromHttp("POST x", 409, R"({"kind":"Status","reason":"AlreadyExists"})", "");
  EXPECT_TRUE(kube::IsAlreadyExists(exists));
  EXPECT_FALSE(IsConflict(exists));
  auto conflict = StatusFromHttp("PUT x", 409, R"({"kind":"Status","reason":"Conflict"})", "");
  EXPECT_TRUE(IsConflict(conflict));
  EXPECT_FALSE(kube::IsAlreadyExists(conflict));
  EXPECT_TRUE(IsGone(StatusFromHttp("GET x", 410, R"({"kind":"Status","reason":"Expired"})", "")));
  EXPECT_TRUE(IsInvalid(StatusFromHttp("PUT x", 422, "{}", "")));
  EXPECT_TRUE(IsUnauthorized(StatusFromHttp("GET x", 401, "Unauthorized", "")));
  EXPECT_TRUE(IsForbidden(StatusFromHttp("GET x", 403, "", "")));

  auto throttled =
      StatusFromHttp("GET x", 429, R"({"kind":"Status","reason":"TooManyRequests"})", "3");
  EXPECT_TRUE(IsRetryable(throttled));
  EXPECT_EQ(RetryAfter(throttled), absl::Seconds(3));
  EXPECT_THAT(std::string(throttled.message()), HasSubstr("retry after 3s"));
  // A server asking for hours gets at most kMaxRetryAfter.
  EXPECT_EQ(RetryAfter(StatusFromHttp("GET x", 429, "", "86400")), kMaxRetryAfter);
  EXPECT_EQ(
      RetryAfter(StatusFromHttp(
          "GET x", 429,
          R"({"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":7200}})",
          "")),
      kMaxRetryAfter);
  EXPECT_EQ(RetryAfter(StatusFromHttp("GET x", 429, "", "-5")), absl::ZeroDuration());
  EXPECT_TRUE(IsRetryable(StatusFromHttp("GET x", 500, "", "")));
  EXPECT_TRUE(IsRetryable(StatusFromHttp("GET x", 503, "<html>busy</html>", "")));
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("connection refused")));
  EXPECT_FALSE(IsRetryable(absl::InternalError("not JSON")));  // not an answer from the server

  auto error = GetApiError(throttled);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->http_code, 429);
  EXPECT_EQ(error->reason, "TooManyRequests");
}

TEST(ErrorsTest, FakeClientsCanBuildEquivalentErrors) {
  EXPECT_TRUE(IsConflict(MakeApiError({409, "Conflict", "stale", absl::ZeroDuration()})));
  EXPECT_TRUE(IsGone(MakeApiError({410, "Expired", "too old", absl::ZeroDuration()})));
  EXPECT_EQ(RetryAfter(MakeApiError({429, "TooManyRequests", "slow down", absl::Seconds(2)})),
            absl::Seconds(2));
}

std::vector<std::string> Decode(const std::vector<std::string>& pieces, absl::Status* status) {
  std::vector<std::string> seen;
  WatchHandler handler = [&](WatchEvent event) {
    seen.push_back(absl::StrCat(WatchEventTypeName(event.type), " ", ObjectName(event.object)));
    return absl::OkStatus();
  };
  WatchDecoder decoder("watch test");
  *status = absl::OkStatus();
  for (const auto& piece : pieces) {
    *status = decoder.Feed(piece, handler);
    if (!status->ok()) return seen;
  }
  *status = decoder.Finish(handler);
  return seen;
}

TEST(WatchDecoderTest, LinesSplitAcrossPieces) {
  absl::Status status;
  auto seen = Decode({R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                      "\n"
                      R"({"type":"MODI)",
                      R"(FIED","object":{"metadata":{"name":"a"}}})", "\n\n",
                      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})"
                      "\n"
                      R"({"type":"DELETED","object":{"metadata":{"name":"a"}}})"},
                     &status);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(seen, ElementsAre("ADDED a", "MODIFIED a", "BOOKMARK ", "DELETED a"));
}

TEST(WatchDecoderTest, ErrorEventEndsTheWatchWithItsStatus) {
  absl::Status status;
  auto seen = Decode({R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                      "\n"
                      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired",)"
                      R"json("message":"too old resource version: 5 (10)"}})json"
                      "\n"},
                     &status);
  EXPECT_THAT(seen, ElementsAre("ADDED a"));
  EXPECT_TRUE(IsGone(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("too old resource version"));

  Decode({"{not json}\n"}, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
}

TEST(WatchDecoderTest, HandlerErrorStopsDecoding) {
  WatchDecoder decoder("w");
  int calls = 0;
  auto status = decoder.Feed(
      "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADDED\",\"object\":{}}\n", [&](WatchEvent) {
        ++calls;
        return absl::AbortedError("enough");
      });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(status.message(), "enough");
}

TEST(TokenSourceTest, FileIsReReadAfterTheIntervalAndOnRefresh) {
  std::string dir = hb::testing::MakeTempDir("token");
  std::string path = dir + "/token";
  std::ofstream(path) << "first\n";
  FakeClock clock;
  TokenSource tokens("fallback", path, clock, absl::Minutes(1));
  EXPECT_EQ(*tokens.Token(), "first");
  std::ofstream(path) << "second";
  EXPECT_EQ(*tokens.Token(), "first");  // cached
  clock.Advance(absl::Seconds(61));
  EXPECT_EQ(*tokens.Token(), "second");
  std::ofstream(path) << "third";
  EXPECT_TRUE(tokens.Refresh());
  EXPECT_FALSE(tokens.Refresh());  // unchanged
  EXPECT_EQ(*tokens.Token(), "third");
  std::filesystem::remove(path);
  clock.Advance(absl::Minutes(2));
  EXPECT_EQ(*tokens.Token(), "third");  // a failed re-read keeps the last good token
  std::filesystem::remove_all(dir);

  TokenSource never("", dir + "/absent", clock);
  EXPECT_TRUE(absl::IsUnauthenticated(never.Token().status()));
  TokenSource fixed("static", "", clock);
  EXPECT_EQ(*fixed.Token(), "static");
  EXPECT_FALSE(fixed.Refresh());
}

class TlsMaterialTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(hb::testing::MakeTempDir("tls"));
    ASSERT_TRUE(testing::MakeSelfSignedCertificate(*dir_, "a"));
    ASSERT_TRUE(testing::MakeSelfSignedCertificate(*dir_, "b"));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string Read(const std::string& name) {
    std::ifstream in(*dir_ + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static std::string* dir_;
};
std::string* TlsMaterialTest::dir_ = nullptr;

TEST_F(TlsMaterialTest, ChecksCertificatesAndKeys) {
  EXPECT_TRUE(ValidateTls({Read("a.crt") + Read("b.crt"), "", ""}).ok());
  EXPECT_TRUE(ValidateTls({Read("a.crt"), Read("a.crt"), Read("a.key")}).ok());

  auto bad_ca = ValidateTls({"not a certificate", "", ""});
  EXPECT_THAT(std::string(bad_ca.message()), HasSubstr("certificate authority"));
  auto mismatch = ValidateTls({"", Read("a.crt"), Read("b.key")});
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("does not match"));
  EXPECT_THAT(std::string(mismatch.message()), ::testing::Not(HasSubstr("PRIVATE KEY")));
  auto no_key = ValidateTls({"", Read("a.crt"), "garbage"});
  EXPECT_THAT(std::string(no_key.message()), HasSubstr("client key"));

  KubeConfig config;
  config.server = "https://127.0.0.1:1";
  config.ca_pem = "garbage";
  auto client = RestKubeClient::FromConfig(config);
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("certificate authority"));
  config.ca_pem.clear();
  config.server = "ftp://x";
  EXPECT_FALSE(RestKubeClient::FromConfig(config).ok());
}

}  // namespace
}  // namespace hb::kube
