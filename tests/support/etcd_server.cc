#include "support/etcd_server.h"

#include <signal.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace hb::testing {
bool MakeTlsFiles(const std::string& dir, TlsFiles& files) {
  files.ca = dir + "/ca.pem";
  files.server_cert = dir + "/server.pem";
  files.server_key = dir + "/server-key.pem";
  files.client_cert = dir + "/client.pem";
  files.client_key = dir + "/client-key.pem";
  std::string ca_key = dir + "/ca-key.pem";
  std::string ext = dir + "/san.ext";
  std::string script = absl::StrCat(
      "set -e; cd ", dir, "\n",
      "printf "
      "'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ",
      ext, "\n", "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ",
      ca_key, " -out ", files.ca, " 2>/dev/null\n", "for who in server client; do\n",
      "  openssl req -newkey rsa:2048 -nodes -subj /CN=$who -keyout $who-key.pem -out $who.csr "
      "2>/dev/null\n",
      "  openssl x509 -req -in $who.csr -CA ", files.ca, " -CAkey ", ca_key,
      " -CAcreateserial -days 2 -extfile ", ext, " -out $who.pem 2>/dev/null\n", "done\n");
  return RunCommand({"/bin/sh", "-c", script}).exit_code == 0;
}

std::unique_ptr<EtcdServer> EtcdServer::Launch(Options options) {
  std::unique_ptr<EtcdServer> server(new EtcdServer());
  server->options_ = options;
  server->dir_ = MakeTempDir("etcd");
  server->client_port_ = options.client_port != 0 ? options.client_port : FreePort();
  server->peer_port_ = options.peer_port != 0 ? options.peer_port : FreePort();
  if (options.tls && !MakeTlsFiles(server->dir_, server->tls_)) return nullptr;
  server->Run(/*wait=*/false);
  return server;
}

std::unique_ptr<EtcdServer> EtcdServer::Start(Options options) {
  auto server = Launch(std::move(options));
  if (server == nullptr || !server->WaitReady(absl::Seconds(20))) return nullptr;
  return server;
}

EtcdServer::~EtcdServer() {
  watch_.reset();
  process_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string EtcdServer::endpoint() const { return absl::StrCat("127.0.0.1:", client_port_); }

std::string EtcdServer::peer_url() const { return absl::StrCat("http://127.0.0.1:", peer_port_); }

bool EtcdServer::Run(bool wait) {
  std::string scheme = options_.tls ? "https" : "http";
  std::string client_url = absl::StrCat(scheme, "://127.0.0.1:", client_port_);
  std::string peer = peer_url();
  std::string cluster = options_.initial_cluster.empty() ? absl::StrCat(options_.name, "=", peer)
                                                         : options_.initial_cluster;
  std::vector<std::string> argv = {"/usr/bin/etcd",
                                   "--name=" + options_.name,
                                   "--data-dir=" + dir_ + "/data",
                                   "--listen-client-urls=" + client_url,
                                   "--advertise-client-urls=" + client_url,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=" + cluster,
                                   "--initial-cluster-state=" + options_.cluster_state,
                                   "--logger=zap",
                                   "--log-level=warn"};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  if (options_.tls) {
    argv.push_back("--cert-file=" + tls_.server_cert);
    argv.push_back("--key-file=" + tls_.server_key);
    argv.push_back("--trusted-ca-file=" + tls_.ca);
    argv.push_back("--client-cert-auth");
  }
  ++launches_;
  process_ = std::make_unique<Process>(argv, absl::StrCat(dir_, "/etcd-", launches_, ".log"));
  return !wait || WaitReady(absl::Seconds(20));
}

bool EtcdServer::WaitReady(absl::Duration timeout) {
  return WaitFor([this] { return !process_->Running() || Ready(); }, timeout) &&
         process_->Running();
}

void EtcdServer::Signal(int signal) { process_->Signal(signal); }

bool EtcdServer::Ready() {
  return Etcdctl({"endpoint", "health", "--command-timeout=1s"}).exit_code == 0;
}

void EtcdServer::Stop() {
  process_->Signal(SIGTERM);
  process_->Wait(absl::Seconds(10));
}

void EtcdServer::Kill() {
  process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(10));
}

bool EtcdServer::Restart(bool wipe, const std::string& cluster_state) {
  if (process_->Running()) Stop();
  if (wipe) {
    std::error_code ec;
    std::filesystem::remove_all(dir_ + "/data", ec);
  }
  if (!cluster_state.empty()) options_.cluster_state = cluster_state;
  return Run(/*wait=*/true);
}

std::vector<std::string> EtcdServer::EtcdctlBase() const {
  std::vector<std::string> argv = {"/usr/bin/etcdctl", "--endpoints=" + endpoint(),
                                   "--dial-timeout=2s"};
  if (options_.tls) {
    argv.push_back("--cacert=" + tls_.ca);
    argv.push_back("--cert=" + tls_.client_cert);
    argv.push_back("--key=" + tls_.client_key);
  }
  return argv;
}

CommandResult EtcdServer::Etcdctl(std::vector<std::string> args) {
  std::vector<std::string> argv = EtcdctlBase();
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, absl::Seconds(15), {"ETCDCTL_API=3"});
}

std::string EtcdServer::EnableAuth(const std::string& user, const std::string& password) {
  for (std::vector<std::string> step :
       {std::vector<std::string>{"user", "add", "root:rootpw"},
        {"role", "add", "heartbeat"},
        {"role", "grant-permission", "heartbeat", "readwrite", "/chora/", "--prefix=true"},
        {"user", "add", user + ":" + password},
        {"user", "grant-role", user, "heartbeat"},
        {"auth", "enable"}}) {
    CommandResult r = Etcdctl(step);
    if (r.exit_code != 0) return r.output.empty() ? "etcdctl failed" : r.output;
  }
  return "";
}

std::optional<std::string> EtcdServer::Get(const std::string& key) {
  CommandResult r = Etcdctl({"get", key, "--print-value-only"});
  if (r.exit_code != 0 || r.output.empty()) return std::nullopt;
  return std::string(absl::StripSuffix(r.output, "\n"));
}

std::vector<std::string> EtcdServer::Keys(const std::string& prefix) {
  CommandResult r = Etcdctl({"get", prefix, "--prefix", "--keys-only"});
  std::vector<std::string> keys;
  for (absl::string_view line : absl::StrSplit(r.output, '\n', absl::SkipEmpty())) {
    keys.emplace_back(line);
  }
  return keys;
}

EtcdServer::KeyMeta EtcdServer::Meta(const std::string& key) {
  CommandResult r = Etcdctl({"get", key, "-w", "json"});
  KeyMeta meta;
  auto json = nlohmann::json::parse(r.output, nullptr, false);
  if (json.is_discarded() || !json.contains("kvs")) return meta;
  const auto& kv = json["kvs"][0];
  meta.create_revision = kv.value("create_revision", int64_t{0});
  meta.mod_revision = kv.value("mod_revision", int64_t{0});
  meta.lease = kv.value("lease", int64_t{0});
  return meta;
}

void EtcdServer::StartWatch(const std::string& prefix) {
  std::vector<std::string> argv = EtcdctlBase();
  argv.insert(argv.end(), {"watch", prefix, "--prefix", "-w", "json"});
  watch_ = std::make_unique<Process>(argv, dir_ + "/watch.log",
                                     std::vector<std::string>{"ETCDCTL_API=3"});
  // etcdctl prints nothing when the watch is set up: write a marker until it shows.
  std::string marker = prefix + ".watch-ready";
  WaitFor(
      [&] {
        Etcdctl({"put", marker, "x"});
        for (const WatchRecord& r : WatchEvents()) {
          if (r.key == marker) return true;
        }
        return false;
      },
      absl::Seconds(10));
}

std::vector<EtcdServer::WatchRecord> EtcdServer::WatchEvents() const {
  std::vector<WatchRecord> records;
  if (!watch_) return records;
  for (absl::string_view line : absl::StrSplit(watch_->Output(), '\n', absl::SkipEmpty())) {
    auto response = nlohmann::json::parse(line, nullptr, false);
    if (!response.is_object() || !response.contains("Events")) continue;
    for (const auto& event : response["Events"]) {
      const auto& kv = event.value("kv", nlohmann::json::object());
      WatchRecord r;
      r.deleted = event.value("type", 0) == 1;
      absl::Base64Unescape(kv.value("key", ""), &r.key);
      absl::Base64Unescape(kv.value("value", ""), &r.value);
      r.lease = kv.value("lease", int64_t{0});
      r.create_revision = kv.value("create_revision", int64_t{0});
      r.mod_revision = kv.value("mod_revision", int64_t{0});
      records.push_back(std::move(r));
    }
  }
  return records;
}

std::string EtcdServer::WatchLog() const {
  std::string text;
  for (const WatchRecord& r : WatchEvents()) {
    absl::StrAppend(&text, r.deleted ? "DELETE\n" : "PUT\n", r.key, "\n",
                    r.deleted ? "" : r.value + "\n");
  }
  return text;
}

}  // namespace hb::testing
