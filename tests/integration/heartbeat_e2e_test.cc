// The heartbeat command against a real etcd: the original service's promises, kept.
#include <signal.h>

#include <fstream>

#include "e2e_fixture.h"
#include "nlohmann/json.hpp"

namespace hb::testing {
namespace {

TEST_F(HeartbeatE2E, KeyAppearsWithinOneSecondAndCountAdvancesEveryInterval) {
  absl::Time started = absl::Now();
  Process& hb = StartHeartbeat({"--namespace", "it.one", "--interval", "1", "--ttl", "3"});
  ASSERT_TRUE(WaitFor([&] { return Present("it.one"); }, absl::Seconds(1)))
      << "no key within one second\n"
      << hb.Output();
  EXPECT_LT(absl::Now() - started, absl::Seconds(1));
  auto value = heartbeat::ParseHealthValue(*etcd_->Get(Key("it.one")));
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->status, "healthy");
  EXPECT_EQ(value->identifier, "it.one");
  EXPECT_EQ(value->ttl_seconds, 3);
  EXPECT_EQ(value->lease_id, etcd_->Meta(Key("it.one")).lease);
  EXPECT_LT(absl::AbsDuration(absl::Now() - value->timestamp), absl::Seconds(2));

  // Three TTLs: the original lost its key after one. The count moves on in every window of
  // one and a half intervals: two beats are at most an interval plus its 5 % jitter plus the
  // 200 ms batch window apart (1.25 s here; gaps of 1.11-1.20 s are seen on a quiet machine).
  int64_t previous = Count("it.one");
  absl::Time end = absl::Now() + absl::Seconds(9);
  int samples = 0;
  while (absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(1500));
    int64_t count = Count("it.one");
    EXPECT_GT(count, previous) << "sample " << samples;
    previous = count;
    ++samples;
  }
  EXPECT_GE(previous, 8);
  EXPECT_TRUE(hb.Running());
}

TEST_F(HeartbeatE2E, GracefulStopRevokesLeasesAndRemovesKeys) {
  Process& hb = StartHeartbeat(
      {"--namespace", "it.a", "--namespace", "it.b", "--interval", "1", "--ttl", "30"});
  ASSERT_TRUE(WaitFor([&] { return Present("it.a") && Present("it.b"); }, absl::Seconds(2)));
  hb.Signal(SIGTERM);
  EXPECT_EQ(hb.Wait(absl::Seconds(10)), 0) << hb.Output();
  EXPECT_FALSE(Present("it.a"));
  EXPECT_FALSE(Present("it.b"));
  EXPECT_NE(hb.Output().find("Heartbeat service stopped"), std::string::npos);
  EXPECT_NE(hb.Output().find("leases_revoked=2"), std::string::npos) << hb.Output();
}

TEST_F(HeartbeatE2E, KeepLeasesOnExitLeavesKeysToExpire) {
  Process& hb = StartHeartbeat(
      {"--namespace", "it.kept", "--interval", "1", "--ttl", "3", "--keep-leases-on-exit"});
  ASSERT_TRUE(WaitFor([&] { return Present("it.kept"); }, absl::Seconds(2)));
  hb.Signal(SIGINT);
  EXPECT_EQ(hb.Wait(absl::Seconds(10)), 0);
  EXPECT_TRUE(Present("it.kept"));
  EXPECT_TRUE(WaitFor([&] { return !Present("it.kept"); }, absl::Seconds(5)));
}

TEST_F(HeartbeatE2E, AfterKill9TheKeyExpiresWithinTtlPlusTwoSeconds) {
  Process& hb = StartHeartbeat({"--namespace", "it.killed", "--interval", "1", "--ttl", "3"});
  // Let it run through a few beats and renewals (TTL 3 s: a renewal every second).
  ASSERT_TRUE(WaitFor([&] { return Count("it.killed") >= 3; }, absl::Seconds(5)));
  hb.Signal(SIGKILL);
  hb.Wait(absl::Seconds(5));
  absl::Time killed = absl::Now();
  EXPECT_TRUE(Present("it.killed"));
  ASSERT_TRUE(WaitFor([&] { return !Present("it.killed"); }, absl::Seconds(5)));
  EXPECT_LE(absl::Now() - killed, absl::Seconds(5));
}

TEST_F(HeartbeatE2E, RestartedProcessAdoptsTheLiveLeases) {
  etcd_->StartWatch("/chora/capabilities/");
  std::vector<std::string> args = {"--namespace", "it.x",       "--namespace",
                                   "it.y",        "--interval", "1",
                                   "--ttl",       "5",          "--keep-leases-on-exit"};
  Process& first = StartHeartbeat(args);
  ASSERT_TRUE(WaitFor([&] { return Count("it.x") >= 2 && Count("it.y") >= 2; }, absl::Seconds(5)));
  int64_t lease_x = etcd_->Meta(Key("it.x")).lease;
  int64_t created_x = etcd_->Meta(Key("it.x")).create_revision;
  first.Signal(SIGTERM);
  ASSERT_EQ(first.Wait(absl::Seconds(10)), 0);
  int64_t count_at_stop = Count("it.x");

  Process& second = StartHeartbeat(args);
  ASSERT_TRUE(WaitFor([&] { return Count("it.x") > count_at_stop + 2; }, absl::Seconds(6)))
      << second.Output();
  EXPECT_EQ(etcd_->Meta(Key("it.x")).lease, lease_x) << "the same lease is renewed";
  EXPECT_EQ(etcd_->Meta(Key("it.x")).create_revision, created_x) << "the key was never recreated";
  EXPECT_EQ(Deletes("it.x"), 0);
  EXPECT_EQ(Deletes("it.y"), 0);
  EXPECT_NE(second.Output().find("Adopted live lease"), std::string::npos);
  EXPECT_EQ(second.Output().find("Created lease"), std::string::npos);
}

TEST_F(HeartbeatE2E, AutoDiscoveryHeartbeatsExactlyTheValidServiceManifests) {
  WriteFile("caps/chora.devex.registry.yaml",
            "metadata:\n  dc_identifier: chora.devex.registry\n  dc_type: Service\n"
            "chora_service:\n  health: {interval: 1, heartbeat_ttl: 4}\n");
  WriteFile("caps/chora.devex.bootstrap.yml",
            "metadata: {dc_identifier: chora.devex.bootstrap, dc_type: Service}\n"
            "chora_service: {interfaces: [cli]}\n");
  WriteFile("caps/pattern.yaml",
            "metadata: {dc_identifier: chora.awareness.pattern, dc_type: Pattern}\n"
            "# No chora_service block here\nchora_pattern: {}\n");
  WriteFile("caps/broken.yaml", "metadata: [this is: not closed\n");
  WriteFile("caps/noid.yaml", "metadata: {dc_type: Service}\nchora_service: {}\n");
  WriteFile("caps/dup.yaml",
            "metadata: {dc_identifier: chora.devex.registry}\nchora_service: {}\n");
  WriteFile(
      "caps/shortttl.yaml",
      "metadata: {dc_identifier: chora.x.short}\nchora_service: {health: {heartbeat_ttl: 1}}\n");
  WriteFile("caps/README.txt", "chora_service: not a manifest\n");
  Process& hb = StartHeartbeat(
      {"--auto-discover", "--capabilities", dir_ + "/caps", "--interval", "1", "--ttl", "3"});
  ASSERT_TRUE(
      WaitFor([&] { return Present("chora.devex.registry") && Present("chora.devex.bootstrap"); },
              absl::Seconds(2)))
      << hb.Output();
  // The process has decided (it logs what it runs once every capability is added) and both
  // keys have beaten twice, so any other capability would have had its first put too.
  ASSERT_TRUE(WaitFor(
      [&] {
        return hb.Output().find("Starting heartbeat for 2 service(s)") != std::string::npos &&
               Count("chora.devex.registry") >= 2 && Count("chora.devex.bootstrap") >= 2;
      },
      absl::Seconds(5)))
      << hb.Output();
  std::vector<std::string> keys = etcd_->Keys("/chora/capabilities/");
  EXPECT_EQ(keys,
            (std::vector<std::string>{Key("chora.devex.bootstrap"), Key("chora.devex.registry")}));
  std::string log = hb.Output();
  for (const char* file : {"broken.yaml", "noid.yaml", "dup.yaml", "shortttl.yaml"}) {
    EXPECT_NE(log.find(absl::StrCat("ERROR - Skipping ", dir_, "/caps/", file)), std::string::npos)
        << file << "\n"
        << log;
  }
  EXPECT_NE(log.find("Found 2 Service-type capability/ies"), std::string::npos);
  EXPECT_TRUE(hb.Running());
}

TEST_F(HeartbeatE2E, UsageErrorsExitTwoWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"heartbeat"}, {}, "give --namespace ID"},
      {{"heartbeat", "--namespace", "Not_Valid"}, {}, "invalid identifier \"Not_Valid\""},
      {{"heartbeat", "--namespace", "a.b", "--interval", "30", "--ttl", "30"}, {}, "--interval"},
      {{"heartbeat", "--namespace", "a.b", "--ttl", "1"}, {}, "--ttl must be at least 2"},
      {{"heartbeat", "--namespace", "a.b", "--etcd-endpoints", "nohost"}, {}, "\"nohost\""},
      {{"heartbeat", "--namespace", "a.b", "--mode", "sometimes"}, {}, "--mode"},
      {{"heartbeat", "--namespace", "a.b"}, {"LOG_LEVEL=loud"}, "LOG_LEVEL"},
      {{"heartbeat", "--bogus"}, {}, "--bogus"},
      {{"controller", "--watch-namespace", "team-a", "--capabilities-configmap", "team-b/caps"},
       {},
       "namespace team-b is not in --watch-namespace (team-a)"},
      {{}, {}, "subcommand"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {BinaryPath()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    CommandResult r = RunCommand(argv, absl::Seconds(10), c.env);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
  }
  CommandResult help = RunCommand({BinaryPath(), "heartbeat", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* option :
       {"--namespace", "--auto-discover", "--capabilities", "--etcd-host", "--etcd-port",
        "--interval", "--ttl", "--etcd-endpoints", "--etcd-cacert", "--etcd-user", "--mode",
        "--keep-leases-on-exit", "LOG_LEVEL"}) {
    EXPECT_NE(help.output.find(option), std::string::npos) << option;
  }
  CommandResult empty_dir =
      RunCommand({BinaryPath(), "heartbeat", "--auto-discover", "--capabilities", dir_ + "/none"});
  EXPECT_EQ(empty_dir.exit_code, 1);
  EXPECT_NE(empty_dir.output.find(dir_ + "/none"), std::string::npos) << empty_dir.output;
}

TEST_F(HeartbeatE2E, StatusPrintsTheTableAndWatchPrintsHeartbeatsAndRemovals) {
  Process& hb = StartHeartbeat(
      {"--namespace", "st.one", "--namespace", "st.two", "--interval", "1", "--ttl", "4"});
  ASSERT_TRUE(
      WaitFor([&] { return Count("st.one") >= 2 && Count("st.two") >= 2; }, absl::Seconds(5)));
  std::vector<std::string> status = {BinaryPath(), "status",
                                     "--etcd-endpoints=" + etcd_->endpoint()};
  CommandResult table = RunCommand(status);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("IDENTIFIER"), std::string::npos);
  EXPECT_NE(table.output.find("st.one"), std::string::npos);
  EXPECT_NE(table.output.find("healthy"), std::string::npos);

  std::vector<std::string> json_args = status;
  json_args.push_back("-o");
  json_args.push_back("json");
  auto rows = nlohmann::json::parse(RunCommand(json_args).output);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["identifier"], "st.one");
  EXPECT_GT(rows[0]["ttl_remaining"].get<int>(), 0);
  EXPECT_LE(rows[0]["ttl_remaining"].get<int>(), 4);
  EXPECT_GE(rows[0]["heartbeat_count"].get<int>(), 2);

  std::vector<std::string> watch_args = status;
  watch_args.push_back("--watch");
  Process watch(watch_args, dir_ + "/watch.log");
  ASSERT_TRUE(WaitFor([&] { return watch.Output().find("HEARTBEAT  st.two") != std::string::npos; },
                      absl::Seconds(5)))
      << watch.Output();
  hb.Signal(SIGTERM);
  ASSERT_EQ(hb.Wait(absl::Seconds(10)), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        return watch.Output().find("REMOVED  st.one") != std::string::npos &&
               watch.Output().find("REMOVED  st.two") != std::string::npos;
      },
      absl::Seconds(5)))
      << watch.Output();
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(5)), 0);

  CommandResult unreachable =
      RunCommand({BinaryPath(), "status",
                  "--etcd-endpoints=127.0.0.1:" + std::to_string(FreePort()), "--etcd-timeout=1"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.output.find("cannot read /chora/capabilities/"), std::string::npos)
      << unreachable.output;
}

}  // namespace
}  // namespace hb::testing
