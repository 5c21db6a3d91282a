// RestKubeClient over HTTPS with the emulator's self-signed CA from its kubeconfig, bearer
// tokens (fixed, missing, wrong, and a token file that changes), and watches over TLS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kube/errors.h"
#include "kube_test_util.h"
#include "test_certificates.h"

namespace hb::kube::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "s3cret-emulator-token";

class RestTlsTest : public EmulatorTest {
 protected:
  static void SetUpTestSuite() {
    hb::testing::KubeEmulator::Options options;
    options.tls = true;
    options.token = kToken;
    StartEmulator(options);
  }

  KubeConfig Config() {
    auto config = LoadKubeconfig(emulator_->kubeconfig_path());
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? *config : KubeConfig();
  }
  std::unique_ptr<RestKubeClient> ClientFor(const KubeConfig& config) {
    auto client = RestKubeClient::FromConfig(config);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(client).value() : nullptr;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_F(RestTlsTest, KubeconfigWithClusterCaAndToken) {
  KubeConfig config = Config();
  EXPECT_THAT(config.server, ::testing::StartsWith("https://127.0.0.1:"));
  EXPECT_FALSE(config.ca_pem.empty());
  EXPECT_EQ(config.token, kToken);
  auto ns = client_->Get(kNamespaces, "default");
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(ObjectName(*ns), "default");
}

TEST_F(RestTlsTest, WatchStreamsOverTls) {
  const std::string tag = UniqueName("tls-watch");
  WatchOptions options;
  options.label_selector = "suite=" + tag;
  options.resource_version = "0";
  WatchRunner watch(*client_, kConfigMaps, options);
  ASSERT_TRUE(emulator_->WaitForWatch(options.label_selector, absl::Seconds(10)));
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(tag, {}, {{"suite", tag}})).ok());
  ASSERT_TRUE(watch.WaitForEvents(1, absl::Seconds(5))) << "no event while the watch is open";
  EXPECT_FALSE(watch.Finished());
  EXPECT_EQ(watch.Summary(), std::vector<std::string>{"ADDED " + tag});
  absl::Time cancelled_at = absl::Now();
  watch.Cancel();
  ASSERT_TRUE(watch.WaitForResult(absl::Seconds(5)).has_value());
  EXPECT_LT(watch.finished_at() - cancelled_at, absl::Seconds(1));
}

TEST_F(RestTlsTest, MissingOrWrongTokenIsUnauthorized) {
  KubeConfig config = Config();
  config.token.clear();
  auto anonymous = ClientFor(config);
  auto refused = anonymous->Get(kNamespaces, "default");
  EXPECT_TRUE(IsUnauthorized(refused.status())) << refused.status();
  EXPECT_FALSE(IsRetryable(refused.status()));

  config.token = "wrong-token-value";
  auto wrong = ClientFor(config)->Get(kNamespaces, "default");
  EXPECT_TRUE(IsUnauthorized(wrong.status())) << wrong.status();
  EXPECT_THAT(std::string(wrong.status().message()), Not(HasSubstr("wrong-token-value")));
  WatchOptions options;
  options.timeout_seconds = 10;  // a broken client must not hang the test
  absl::Status watch = ClientFor(config)->Watch(
      kConfigMaps, options, [](WatchEvent) { return absl::OkStatus(); }, CancelToken());
  EXPECT_TRUE(IsUnauthorized(watch)) << watch;
}

TEST_F(RestTlsTest, ServerCertificateMustBeTrusted) {
  KubeConfig config = Config();
  config.ca_pem.clear();  // system CAs do not know the emulator's CA
  auto untrusted = ClientFor(config)->Get(kNamespaces, "default");
  EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kUnavailable) << untrusted.status();

  std::string dir = hb::testing::MakeTempDir("other-ca");
  ASSERT_TRUE(MakeSelfSignedCertificate(dir, "other"));
  config.ca_pem = Read(dir + "/other.crt");
  auto wrong_ca = ClientFor(config)->Get(kNamespaces, "default");
  EXPECT_EQ(wrong_ca.status().code(), absl::StatusCode::kUnavailable) << wrong_ca.status();

  config.ca_pem = Read(dir + "/other.crt") + Read(emulator_->ca_path());  // a bundle
  EXPECT_TRUE(ClientFor(config)->Get(kNamespaces, "default").ok());

  config.ca_pem.clear();
  config.insecure_skip_tls_verify = true;
  auto insecure = ClientFor(config)->Get(kNamespaces, "default");
  EXPECT_TRUE(insecure.ok()) << insecure.status();
  std::filesystem::remove_all(dir);
}

TEST_F(RestTlsTest, ClientCertificateIsLoadedFromMemory) {
  std::string dir = hb::testing::MakeTempDir("client-cert");
  ASSERT_TRUE(MakeSelfSignedCertificate(dir, "client"));
  KubeConfig config = Config();
  config.client_cert_pem = Read(dir + "/client.crt");
  config.client_key_pem = Read(dir + "/client.key");
  auto got = ClientFor(config)->Get(kNamespaces, "default");
  EXPECT_TRUE(got.ok()) << got.status();
  std::filesystem::remove_all(dir);
}

TEST_F(RestTlsTest, TokenFileIsReReadAfterUnauthorized) {
  std::string dir = hb::testing::MakeTempDir("token-file");
  std::string path = dir + "/token";
  std::ofstream(path) << "expired-token\n";
  KubeConfig config = Config();
  config.token.clear();
  config.token_file = path;
  auto client = ClientFor(config);
  auto before = client->Get(kNamespaces, "default");
  EXPECT_TRUE(IsUnauthorized(before.status())) << before.status();

  std::ofstream(path) << kToken << "\n";  // the kubelet rotated the token
  auto after = client->Get(kNamespaces, "default");
  EXPECT_TRUE(after.ok()) << after.status();

  std::ofstream(path) << "rotated-again\n";  // cached until the next 401 or refresh interval
  const std::string tag = UniqueName("token-watch");
  WatchOptions options;
  options.label_selector = "suite=" + tag;
  options.timeout_seconds = 1;
  absl::Status watch = client->Watch(
      kConfigMaps, options, [](WatchEvent) { return absl::OkStatus(); }, CancelToken());
  EXPECT_TRUE(watch.ok()) << watch;  // still the good token
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hb::kube::testing
