// Kubeconfig and in-cluster loading, and the choice LoadDefault() makes between them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "kube/config.h"
#include "support/process.h"

namespace hb::kube {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = hb::testing::MakeTempDir("kubeconfig"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& contents) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << contents;
    return path;
  }

  std::string dir_;
};

constexpr char kTwoContexts[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443
    certificate-authority-data: Q0EtUEVN
- name: prod-cluster
  cluster:
    server: https://prod.example:6443
    certificate-authority: certs/ca.pem
users:
- name: dev-user
  user:
    token: dev-secret-token
- name: prod-user
  user:
    client-certificate: certs/client.pem
    client-key: /ABSOLUTE/client-key.pem
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: team-a}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
)";

TEST_F(KubeConfigTest, CurrentContextWithDataFields) {
  std::string path = Write("config", kTwoContexts);
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://dev.example:6443");
  EXPECT_EQ(config->ca_pem, "CA-PEM");  // base64 decoded
  EXPECT_EQ(config->token, "dev-secret-token");
  EXPECT_EQ(config->default_namespace, "team-a");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_THAT(config->origin, HasSubstr(path));
  EXPECT_THAT(config->origin, HasSubstr("context dev"));
  EXPECT_THAT(Describe(*config), Not(HasSubstr("dev-secret-token")));
  EXPECT_THAT(Describe(*config), HasSubstr("bearer token"));
}

TEST_F(KubeConfigTest, NamedContextWithRelativeAndAbsoluteFiles) {
  std::string text = kTwoContexts;
  text.replace(text.find("/ABSOLUTE"), 9, dir_);
  std::string path = Write("sub/config", text);
  Write("sub/certs/ca.pem", "CA FROM FILE");
  Write("sub/certs/client.pem", "CERT FROM FILE");
  Write("client-key.pem", "KEY FROM FILE");
  auto config = LoadKubeconfig(path, "prod");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://prod.example:6443");
  EXPECT_EQ(config->ca_pem, "CA FROM FILE");  // relative to the kubeconfig's directory
  EXPECT_EQ(config->client_cert_pem, "CERT FROM FILE");
  EXPECT_EQ(config->client_key_pem, "KEY FROM FILE");
  EXPECT_EQ(config->default_namespace, "default");
  EXPECT_THAT(Describe(*config), Not(HasSubstr("KEY FROM FILE")));
}

TEST_F(KubeConfigTest, DataFieldWinsOverFileField) {
  std::string path = Write("config", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k:1", certificate-authority: missing.pem,
            certificate-authority-data: REFUQQ==}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, "DATA");
  EXPECT_TRUE(config->token.empty());
}

TEST_F(KubeConfigTest, MissingContextNamesTheFileAndTheContexts) {
  std::string path = Write("config", kTwoContexts);
  auto config = LoadKubeconfig(path, "staging");
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(absl::IsNotFound(config.status()));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("context \"staging\" not found"));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("dev, prod"));
}

TEST_F(KubeConfigTest, NoCurrentContext) {
  std::string path = Write("config", "clusters: []\n");
  auto config = LoadKubeconfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("no current-context"));
}

TEST_F(KubeConfigTest, ErrorsNameFileAndField) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n",
       "cluster \"k\" of context \"c\" not found"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://k'}}]\n",
       "user \"u\" of context \"c\" not found"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {certificate-authority-data: QQ==}}]\n",
       "clusters[name=\"k\"].cluster.server is missing"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://k', certificate-authority-data: '%%'}}]\n",
       "clusters[name=\"k\"].cluster.certificate-authority-data is not valid base64"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://k', certificate-authority: nope.pem}}]\n",
       "clusters[name=\"k\"].cluster.certificate-authority"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://k'}}]\n"
       "users: [{name: u, user: {exec: {command: aws}}}]\n",
       "users[name=\"u\"].user.exec is not supported"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://k'}}]\n"
       "users: [{name: u, user: {client-certificate-data: QQ==}}]\n",
       "users[name=\"u\"].user.client-key is missing"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: 'k.example:443'}}]\n",
       "server must start with https://"},
      {"current-context: [c\n", "not valid YAML"},
  };
  for (const Case& c : cases) {
    std::string path = Write("config", c.yaml);
    auto config = LoadKubeconfig(path);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(path)) << c.yaml;
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.expected)) << c.yaml;
  }
}

TEST_F(KubeConfigTest, TokenFileIsResolvedAndChecked) {
  Write("token", "file-token\n");
  std::string path = Write("config", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {tokenFile: token}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token_file, dir_ + "/token");
  EXPECT_TRUE(config->insecure_skip_tls_verify);

  std::filesystem::remove(dir_ + "/token");
  auto missing = LoadKubeconfig(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("tokenFile"));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir_ + "/token"));
}

TEST_F(KubeConfigTest, MergedFilesFirstValueWins) {
  std::string first = Write("a", R"(
current-context: from-a
contexts: [{name: from-a, context: {cluster: shared, namespace: a}}]
clusters: [{name: shared, cluster: {server: "https://a:1"}}]
)");
  std::string second = Write("b", R"(
current-context: from-b
contexts: [{name: from-b, context: {cluster: shared, namespace: b}}]
clusters: [{name: shared, cluster: {server: "https://b:1"}}]
)");
  auto config = LoadKubeconfig(std::vector<std::string>{first, second});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://a:1");
  EXPECT_EQ(config->default_namespace, "a");
  auto other = LoadKubeconfig(std::vector<std::string>{first, second}, "from-b");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->server, "https://a:1");  // cluster "shared" comes from the first file
  EXPECT_EQ(other->default_namespace, "b");
}

TEST_F(KubeConfigTest, ParsesTextWithPathsRelativeToTheBaseDirectory) {
  Write("certs/ca.pem", "CA FROM FILE");
  Write("certs/client.pem", "CERT");
  std::string text = kTwoContexts;
  text.replace(text.find("/ABSOLUTE/client-key.pem"), 24, "certs/client.pem");
  auto config = ParseKubeconfig(text, dir_, "prod");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://prod.example:6443");
  EXPECT_EQ(config->ca_pem, "CA FROM FILE");
  EXPECT_EQ(config->origin, "kubeconfig (text) (context prod)");
  auto missing = ParseKubeconfig(text, dir_, "staging");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("kubeconfig (text): context \"staging\""));
  EXPECT_FALSE(ParseKubeconfig("[1, 2]", dir_).ok());
}

TEST_F(KubeConfigTest, InClusterFromServiceAccountDirectory) {
  Write("sa/token", "sa-token\n");
  Write("sa/ca.crt", "CLUSTER CA");
  Write("sa/namespace", "operators\n");
  auto config = LoadInCluster("10.96.0.1", "443", dir_ + "/sa");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, dir_ + "/sa/token");
  EXPECT_TRUE(config->token.empty());  // read (and re-read) from the file
  EXPECT_EQ(config->ca_pem, "CLUSTER CA");
  EXPECT_EQ(config->default_namespace, "operators");
  EXPECT_THAT(config->origin, HasSubstr("in-cluster"));

  auto ipv6 = LoadInCluster("fd00::1", "443", dir_ + "/sa");
  ASSERT_TRUE(ipv6.ok());
  EXPECT_EQ(ipv6->server, "https://[fd00::1]:443");

  auto no_env = LoadInCluster("", "", dir_ + "/sa");
  EXPECT_THAT(std::string(no_env.status().message()), HasSubstr("KUBERNETES_SERVICE_HOST"));
  auto no_token = LoadInCluster("10.96.0.1", "443", dir_ + "/nowhere");
  ASSERT_FALSE(no_token.ok());
  EXPECT_THAT(std::string(no_token.status().message()), HasSubstr(dir_ + "/nowhere/token"));
}

TEST_F(KubeConfigTest, LoadDefaultPrecedence) {
  std::string flag = Write("flag", R"(
current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://flag:1"}}]
)");
  std::string env = Write("env", R"(
current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://env:1"}}]
)");
  Write("home/.kube/config", R"(
current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://home:1"}}]
)");
  Write("sa/token", "t");
  Write("sa/ca.crt", "CA");

  ConfigSources sources;
  sources.kubeconfig_flag = flag;
  sources.kubeconfig_env = absl::StrCat(dir_, "/missing:", env);
  sources.service_host = "10.0.0.1";
  sources.service_port = "443";
  sources.service_account_dir = dir_ + "/sa";
  sources.home = dir_ + "/home";
  auto server_of = [](const ConfigSources& s) {
    auto config = LoadDefault(s);
    return config.ok() ? config->server : std::string(std::string(config.status().message()));
  };
  EXPECT_EQ(server_of(sources), "https://flag:1");
  sources.kubeconfig_flag.clear();
  EXPECT_EQ(server_of(sources), "https://env:1");  // missing files in KUBECONFIG are skipped
  sources.kubeconfig_env.clear();
  EXPECT_EQ(server_of(sources), "https://10.0.0.1:443");
  sources.service_host.clear();
  EXPECT_EQ(server_of(sources), "https://home:1");
  sources.home = dir_ + "/nohome";
  EXPECT_THAT(server_of(sources), HasSubstr("no Kubernetes configuration found"));

  sources.kubeconfig_flag = dir_ + "/absent";  // an explicit flag must name a real file
  EXPECT_THAT(server_of(sources), HasSubstr(dir_ + "/absent"));
}

}  // namespace
}  // namespace hb::kube
