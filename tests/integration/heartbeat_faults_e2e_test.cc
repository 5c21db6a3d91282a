// The heartbeat command against a real etcd that fails: restarts, wipes, TLS and auth.
#include <signal.h>

#include "e2e_fixture.h"

namespace hb::testing {
namespace {

TEST_F(HeartbeatE2E, EtcdRestartedOnTheSameDataInsideTheTtlLosesNoKey) {
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
  size_t unreachable = 0;
  for (size_t p = 0; (p = log.find("unreachable at every endpoint", p)) != std::string::npos; ++p) {
    ++unreachable;
  }
  EXPECT_EQ(unreachable, 1u) << "one line per state change, not a flood\n" << log;
}

TEST(HeartbeatTlsE2E, TlsWithClientCertificatesAndPasswordFromAFile) {
  auto etcd = EtcdServer::Start(TlsEtcd());
  ASSERT_NE(etcd, nullptr);
  for (std::vector<std::string> step :
       {std::vector<std::string>{"user", "add", "root:rootpw"},
        {"role", "add", "heartbeat"},
        {"role", "grant-permission", "heartbeat", "readwrite", "/chora/", "--prefix=true"},
        {"user", "add", "hb:pw-from-file-42"},
        {"user", "grant-role", "hb", "heartbeat"},
        {"auth", "enable"}}) {
    ASSERT_EQ(etcd->Etcdctl(step).exit_code, 0);
  }
  std::string dir = MakeTempDir("tls");
  std::string password_file = dir + "/password";
  std::ofstream(password_file) << "pw-from-file-42\n";
  Process hb({BinaryPath(), "heartbeat", "--namespace", "tls.one", "--interval", "1", "--ttl", "3",
              "--etcd-endpoints=https://" + etcd->endpoint(), "--etcd-cacert", etcd->tls().ca,
              "--etcd-cert", etcd->tls().client_cert, "--etcd-key", etcd->tls().client_key,
              "--etcd-user", "hb", "--etcd-password-file", password_file},
             dir + "/hb.log", {"LOG_LEVEL=debug"});
  auto present = [&] {
    return etcd->Etcdctl({"--user=root:rootpw", "get", "/chora/capabilities/tls.one/health",
                          "--print-value-only"})
               .output.find("tls.one") != std::string::npos;
  };
  EXPECT_TRUE(WaitFor(present, absl::Seconds(3))) << hb.Output();
  hb.Signal(SIGTERM);
  EXPECT_EQ(hb.Wait(absl::Seconds(10)), 0);
  EXPECT_FALSE(present());
  EXPECT_EQ(hb.Output().find("pw-from-file-42"), std::string::npos) << "a secret was logged";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hb::testing
