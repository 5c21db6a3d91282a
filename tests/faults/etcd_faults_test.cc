// The heartbeat command against a real etcd that fails: restarts, wipes, long outages, a
// full database (NOSPACE), TLS with client certificates and password authentication.
#include <signal.h>

#include "absl/strings/ascii.h"
#include "e2e_fixture.h"
#include "nlohmann/json.hpp"
#include "support/fault_proxy.h"
#include "support/watch_audit.h"

namespace hb::testing {
namespace {

constexpr char kPrefix[] = "/chora/capabilities/";

// How many times `what` occurs in `text`.
size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = 0; (p = text.find(what, p)) != std::string::npos; ++p) ++n;
  return n;
}

// Whether the health key of `id` holds a value naming it, read as etcd's root user (auth on).
bool PresentAsRoot(EtcdServer& etcd, const std::string& id) {
  return etcd.Etcdctl({"--user=root:rootpw", "get", "/chora/capabilities/" + id + "/health",
                       "--print-value-only"})
             .output.find(id) != std::string::npos;
}

// Whether `text` holds something shaped like an etcd simple token: 16 letters, '.', digits.
bool LooksLikeAToken(const std::string& text) {
  int letters = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (absl::ascii_isalpha(static_cast<unsigned char>(text[i]))) {
      ++letters;
    } else {
      if (text[i] == '.' && letters == 16 &&
          absl::ascii_isdigit(static_cast<unsigned char>(text[i + 1]))) {
        return true;
      }
      letters = 0;
    }
  }
  return false;
}

TEST_F(HeartbeatE2E, EtcdRestartedOnTheSameDataInsideTheTtlLosesNoKey) {
  etcd_->StartWatch(kPrefix);
  Process& hb = StartHeartbeat(
      {"--namespace", "rs.a", "--namespace", "rs.b", "--interval", "2", "--ttl", "20"});
  ASSERT_TRUE(WaitFor([&] { return Count("rs.a") >= 1 && Count("rs.b") >= 1; }, absl::Seconds(3)));
  auto before_a = etcd_->Meta(Key("rs.a"));
  auto before_b = etcd_->Meta(Key("rs.b"));
  etcd_->Stop();
  // The outage (2 s plus the restart): renewals every 6.7 s leave 13 s of the 20 s TTL.
  absl::SleepFor(absl::Seconds(2));
  ASSERT_TRUE(etcd_->Restart(/*wipe=*/false));
  int64_t count = Count("rs.a");
  ASSERT_TRUE(WaitFor([&] { return Count("rs.a") >= count + 2; }, absl::Seconds(8))) << hb.Output();
  // A key that had been deleted and written again would have a new create revision.
  EXPECT_EQ(etcd_->Meta(Key("rs.a")).create_revision, before_a.create_revision);
  EXPECT_EQ(etcd_->Meta(Key("rs.b")).create_revision, before_b.create_revision);
  EXPECT_EQ(etcd_->Meta(Key("rs.a")).lease, before_a.lease);
  EXPECT_EQ(hb.Output().find("Lease lost"), std::string::npos) << hb.Output();
  WatchAudit audit = WatchAudit::Of(etcd_->WatchEvents(), kPrefix, "");
  RecordFaultSummary("etcd restarted on the same data inside the TTL (TTL 20 s)",
                     (Present("rs.a") ? 0 : 1) + (Present("rs.b") ? 0 : 1), audit);
  EXPECT_EQ(audit.deletes, 0);
  EXPECT_EQ(audit.lease_changes, 0);
}

TEST_F(HeartbeatE2E, EtcdRestartedEmptyGetsEveryKeyBackWithinOneInterval) {
  std::vector<std::string> args = {"--interval", "3", "--ttl", "9"};
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(absl::StrCat("wipe.n", i));
    args.push_back("--namespace");
    args.push_back(ids.back());
  }
  Process& hb = StartHeartbeat(args);
  ASSERT_TRUE(WaitFor([&] { return etcd_->Keys("/chora/capabilities/").size() == ids.size(); },
                      absl::Seconds(3)));
  etcd_->Kill();
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(etcd_->Restart(/*wipe=*/true));

  absl::Time back = absl::Now();  // etcd answers again, with no data at all
  ASSERT_TRUE(WaitFor([&] { return etcd_->Keys("/chora/capabilities/").size() == ids.size(); },
                      absl::Seconds(3)))
      << "only " << etcd_->Keys("/chora/capabilities/").size() << " keys back\n"
      << hb.Output();
  EXPECT_LE(absl::Now() - back, absl::Seconds(3));
  EXPECT_NE(hb.Output().find("Lease lost"), std::string::npos) << hb.Output();
  EXPECT_TRUE(hb.Running());
}

TEST_F(HeartbeatE2E, KeysSurviveAnEtcdOutageLongerThanTheTtlOnceEtcdReturns) {
  etcd_->StartWatch(kPrefix);
  Process& hb = StartHeartbeat({"--namespace", "long.out", "--interval", "1", "--ttl", "3"});
  ASSERT_TRUE(WaitFor([&] { return Present("long.out"); }, absl::Seconds(2)));
  etcd_->Stop();
  absl::SleepFor(absl::Seconds(5));  // longer than the TTL: the process must keep trying
  EXPECT_TRUE(hb.Running());
  ASSERT_TRUE(etcd_->Restart(/*wipe=*/false));
  int64_t count = Count("long.out");
  EXPECT_TRUE(WaitFor([&] { return Count("long.out") > count + 1; }, absl::Seconds(5)))
      << hb.Output();
  std::string log = hb.Output();
  EXPECT_EQ(Occurrences(log, "unreachable at every endpoint"), 1u)
      << "one line per state change, not a flood\n"
      << log;
  WatchAudit audit = WatchAudit::Of(etcd_->WatchEvents(), kPrefix, "");
  RecordFaultSummary("etcd down 5 s, longer than the TTL (TTL 3 s)", Present("long.out") ? 0 : 1,
                     audit);
  EXPECT_EQ(audit.deletes, 0) << "the watch saw the key deleted";
  // etcd extends its leases when it restarts: the key keeps the lease it had.
  EXPECT_EQ(audit.lease_changes, 0) << log;
}

// etcd's quota is reached (NOSPACE alarm): writes are refused until an operator frees space
// and disarms the alarm. The operator says so once, keeps the leases (keep-alives are still
// answered), and writes again once the alarm is gone.
TEST(HeartbeatNoSpaceE2E, AFullEtcdIsReportedOnceKeepsTheKeysAndRecovers) {
  EtcdServer::Options options;
  options.extra_args = {"--quota-backend-bytes=" + std::to_string(2 << 20)};
  auto etcd = EtcdServer::Start(options);
  ASSERT_NE(etcd, nullptr);
  etcd->StartWatch(kPrefix);
  std::string dir = MakeTempDir("nospace");
  Process hb({BinaryPath(), "heartbeat", "--namespace", "full.a", "--interval", "1", "--ttl", "4",
              "--etcd-endpoints=" + etcd->endpoint()},
             dir + "/hb.log");
  std::string key = "/chora/capabilities/full.a/health";
  ASSERT_TRUE(WaitFor([&] { return etcd->Get(key).has_value(); }, absl::Seconds(5))) << hb.Output();
  int64_t lease = etcd->Meta(key).lease;

  // Fill etcd until it raises the alarm.
  std::string blob(256 << 10, 'x');
  std::string filler = dir + "/blob";
  std::ofstream(filler) << blob;
  bool full = WaitFor(
      [&] {
        static int n = 0;
        CommandResult put = RunCommand(
            {"/bin/sh", "-c",
             absl::StrCat("ETCDCTL_API=3 /usr/bin/etcdctl --endpoints=", etcd->endpoint(),
                          " put /filler/", n++, " < ", filler)});
        return put.output.find("database space exceeded") != std::string::npos;
      },
      absl::Seconds(60));
  ASSERT_TRUE(full) << "etcd never reported NOSPACE";
  ASSERT_TRUE(WaitFor([&] { return hb.Output().find("etcd is out of space") != std::string::npos; },
                      absl::Seconds(5)))
      << hb.Output();
  // Twice the TTL later the key is still there, on the same lease: nothing was lost.
  absl::SleepFor(absl::Seconds(8));
  EXPECT_TRUE(etcd->Get(key).has_value());
  EXPECT_EQ(etcd->Meta(key).lease, lease);
  std::string during = hb.Output();
  EXPECT_EQ(Occurrences(during, "etcd is out of space"), 1u) << "one line per state change\n"
                                                             << during;
  EXPECT_EQ(during.find("too many requests"), std::string::npos);

  // The operator frees space: delete, compact, defragment, disarm.
  ASSERT_EQ(etcd->Etcdctl({"del", "/filler/", "--prefix"}).exit_code, 0);
  std::string status = etcd->Etcdctl({"endpoint", "status", "-w", "json"}).output;
  auto parsed = nlohmann::json::parse(status, nullptr, false);
  ASSERT_TRUE(parsed.is_array()) << status;
  int64_t revision = parsed[0]["Status"]["header"]["revision"].get<int64_t>();
  ASSERT_EQ(etcd->Etcdctl({"compact", std::to_string(revision)}).exit_code, 0);
  ASSERT_EQ(etcd->Etcdctl({"defrag"}).exit_code, 0);
  ASSERT_EQ(etcd->Etcdctl({"alarm", "disarm"}).exit_code, 0);
  EXPECT_TRUE(
      WaitFor([&] { return hb.Output().find("etcd accepts writes again") != std::string::npos; },
              absl::Seconds(5)))
      << hb.Output();
  WatchAudit audit = WatchAudit::Of(etcd->WatchEvents(), kPrefix, "");
  RecordFaultSummary("etcd NOSPACE alarm ~10 s, then disarmed (TTL 4 s)",
                     etcd->Get(key).has_value() ? 0 : 1, audit);
  EXPECT_EQ(audit.deletes, 0);
  EXPECT_EQ(audit.lease_changes, 0);
  std::filesystem::remove_all(dir);
}

TEST(HeartbeatTlsE2E, TlsWithClientCertificatesAndPasswordFromAFile) {
  auto etcd = EtcdServer::Start(TlsEtcd());
  ASSERT_NE(etcd, nullptr);
  ASSERT_EQ(etcd->EnableAuth("hb", "pw-from-file-42"), "");
  std::string dir = MakeTempDir("tls");
  std::string password_file = dir + "/password";
  std::ofstream(password_file) << "pw-from-file-42\n";
  Process hb({BinaryPath(), "heartbeat", "--namespace", "tls.one", "--interval", "1", "--ttl", "3",
              "--etcd-endpoints=https://" + etcd->endpoint(), "--etcd-cacert", etcd->tls().ca,
              "--etcd-cert", etcd->tls().client_cert, "--etcd-key", etcd->tls().client_key,
              "--etcd-user", "hb", "--etcd-password-file", password_file},
             dir + "/hb.log", {"LOG_LEVEL=debug"});
  auto present = [&] { return PresentAsRoot(*etcd, "tls.one"); };
  EXPECT_TRUE(WaitFor(present, absl::Seconds(3))) << hb.Output();
  hb.Signal(SIGTERM);
  EXPECT_EQ(hb.Wait(absl::Seconds(10)), 0);
  EXPECT_FALSE(present());
  EXPECT_EQ(hb.Output().find("pw-from-file-42"), std::string::npos) << "a secret was logged";
  EXPECT_EQ(hb.Output().find("unencrypted"), std::string::npos) << "over TLS: no warning";
  // etcd's simple tokens look like "<16 letters>.<index>": none appears, even at debug level.
  EXPECT_FALSE(LooksLikeAToken(hb.Output())) << "a token was logged\n" << hb.Output();
  std::filesystem::remove_all(dir);
}

// A wrong password: one clear error, a bounded number of attempts and log lines, nothing
// about reachability; the password file rotated to the right one: it recovers by itself.
TEST(HeartbeatAuthE2E, AWrongPasswordIsReportedOnceAndARotatedPasswordFileRecovers) {
  auto etcd = EtcdServer::Start();
  ASSERT_NE(etcd, nullptr);
  ASSERT_EQ(etcd->EnableAuth("hb", "right-pw"), "");
  std::string dir = MakeTempDir("auth");
  std::string password_file = dir + "/password";
  std::ofstream(password_file) << "wrong-pw\n";
  Process hb({BinaryPath(), "heartbeat", "--namespace", "auth.one", "--interval", "1", "--ttl", "5",
              "--etcd-endpoints=" + etcd->endpoint(), "--etcd-user", "hb", "--etcd-password-file",
              password_file},
             dir + "/hb.log", {"LOG_LEVEL=debug"});
  absl::SleepFor(absl::Seconds(8));  // refused throughout: what does the log say meanwhile?
  std::string refused = hb.Output();
  EXPECT_EQ(Occurrences(refused, "ERROR - etcd authentication failed"), 1u) << refused;
  EXPECT_EQ(Occurrences(refused, "not reachable"), 0u) << refused;
  EXPECT_EQ(Occurrences(refused, "unreachable"), 0u) << refused;
  // Attempts back off (1, 2, 4 s ...): at most 4 in 8 s, each one debug line at most.
  EXPECT_LE(Occurrences(refused, "etcd authentication still refused"), 3u) << refused;
  EXPECT_LT(Occurrences(refused, "ERROR"), 3u) << refused;
  EXPECT_EQ(refused.find("wrong-pw"), std::string::npos) << "a secret was logged";
  // A password over a connection without TLS is allowed, and said once.
  EXPECT_EQ(Occurrences(refused,
                        "WARNING - etcd username and password will cross the network "
                        "unencrypted"),
            1u)
      << refused;

  std::ofstream(password_file, std::ios::trunc) << "right-pw\n";  // the Secret rotates
  auto present = [&] { return PresentAsRoot(*etcd, "auth.one"); };
  EXPECT_TRUE(WaitFor(present, absl::Seconds(20))) << hb.Output();
  EXPECT_EQ(Occurrences(hb.Output(), "etcd authentication succeeded again"), 1u) << hb.Output();
  EXPECT_EQ(hb.Output().find("right-pw"), std::string::npos) << "a secret was logged";
  hb.Signal(SIGTERM);
  EXPECT_EQ(hb.Wait(absl::Seconds(10)), 0);
  std::filesystem::remove_all(dir);
}

// The network between the operator and etcd misbehaves (a TCP proxy in between): added
// latency, every connection reset mid-stream, and a blackhole shorter than the TTL.
class EtcdThroughAProxy : public HeartbeatE2E {
 protected:
  void SetUp() override {
    HeartbeatE2E::SetUp();
    if (HasFatalFailure()) return;
    proxy_ = FaultProxy::Start(etcd_->endpoint(), dir_);
    ASSERT_NE(proxy_, nullptr);
    etcd_->StartWatch(kPrefix);
  }
  Process& Start(int interval, int ttl) {
    std::vector<std::string> argv = {
        BinaryPath(), "heartbeat", absl::StrCat("--interval=", interval),
        absl::StrCat("--ttl=", ttl), "--etcd-endpoints=" + proxy_->endpoint()};
    for (int i = 0; i < 4; ++i) argv.push_back(absl::StrCat("--namespace=px.n", i));
    processes_.push_back(std::make_unique<Process>(argv, dir_ + "/hb-proxy.log"));
    Process& hb = *processes_.back();
    EXPECT_TRUE(
        WaitFor([&] { return Count("px.n0") >= 1 && Count("px.n3") >= 1; }, absl::Seconds(10)))
        << hb.Output();
    return hb;
  }
  // Every key beats twice more, then the audit row.
  void ExpectNoKeyLost(const std::string& scenario, Process& hb) {
    std::vector<int64_t> before;
    for (int i = 0; i < 4; ++i) before.push_back(Count(absl::StrCat("px.n", i)));
    EXPECT_TRUE(WaitFor(
        [&] {
          for (int i = 0; i < 4; ++i) {
            if (Count(absl::StrCat("px.n", i)) < before[static_cast<size_t>(i)] + 2) return false;
          }
          return true;
        },
        absl::Seconds(20)))
        << hb.Output();
    WatchAudit audit = WatchAudit::Of(etcd_->WatchEvents(), kPrefix, "");
    int lost = 0;
    for (int i = 0; i < 4; ++i) lost += Present(absl::StrCat("px.n", i)) ? 0 : 1;
    RecordFaultSummary(scenario, lost, audit);
    EXPECT_EQ(lost, 0);
    EXPECT_EQ(audit.deletes, 0) << hb.Output();
    EXPECT_EQ(audit.lease_changes, 0) << hb.Output();
  }
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(EtcdThroughAProxy, AddedLatencyOf300msLosesNothing) {
  Process& hb = Start(/*interval=*/1, /*ttl=*/5);
  ASSERT_TRUE(proxy_->Latency(absl::Milliseconds(300)));
  absl::SleepFor(absl::Seconds(6));  // longer than the TTL, every call 600 ms slower
  ExpectNoKeyLost("etcd behind 300 ms of added latency each way (TTL 5 s)", hb);
}

TEST_F(EtcdThroughAProxy, ConnectionsResetMidStreamLoseNothing) {
  Process& hb = Start(/*interval=*/1, /*ttl=*/5);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(proxy_->Reset());  // every open connection gets an RST
    absl::SleepFor(absl::Seconds(1));
  }
  ExpectNoKeyLost("etcd connections reset mid-stream 3 times (TTL 5 s)", hb);
}

TEST_F(EtcdThroughAProxy, ABlackholeShorterThanTheTtlLosesNoKeyAndNoLease) {
  Process& hb = Start(/*interval=*/2, /*ttl=*/20);
  ASSERT_TRUE(proxy_->Blackhole());
  absl::SleepFor(absl::Seconds(8));
  std::string during = hb.Output();
  // The proxy loses what it swallowed, which leaves the byte streams it held unusable: reset
  // them as the end of a long outage would, rather than wait for gRPC's 15 s ping timeout.
  ASSERT_TRUE(proxy_->Pass());
  ASSERT_TRUE(proxy_->Reset());
  ExpectNoKeyLost("etcd blackholed 8 s, then its connections reset (TTL 20 s)", hb);
  EXPECT_NE(during.find("not answering"), std::string::npos) << during;
}

}  // namespace
}  // namespace hb::testing
