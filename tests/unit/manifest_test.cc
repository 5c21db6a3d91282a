#include "manifest/manifest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "manifest/discovery.h"

namespace hb::manifest {
namespace {

const char kService[] = R"(apiVersion: chora.dev/v1
kind: Capability
metadata:
  dc_identifier: chora.devex.registry
  dc_type: Service
  dc_title: Capability Registry & Discovery
  dc_hasVersion: 1.0.0
chora_service:
  interfaces: [cli, mcp]
  health:
    endpoint: /health
    interval: 5
    timeout: 2
    heartbeat_ttl: 15
)";

const char kPatternWithComment[] = R"(metadata:
  dc_identifier: chora.awareness.patterns
  dc_type: Pattern
# No chora_service block: this is documentation only.
chora_pattern:
  summary: x
)";

TEST(ManifestTest, ParsesAServiceManifest) {
  auto m = ParseManifest(kService, "registry.yaml");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->identifier, "chora.devex.registry");
  EXPECT_TRUE(m->service);
  EXPECT_EQ(m->title, "Capability Registry & Discovery");
  EXPECT_EQ(m->version, "1.0.0");
  EXPECT_EQ(m->interval_seconds, 5);
  EXPECT_EQ(m->ttl_seconds, 15);
  EXPECT_EQ(m->timeout, absl::Seconds(2));
  EXPECT_EQ(m->endpoint, "/health");
}

TEST(ManifestTest, ACommentMentioningChoraServiceDoesNotMakeAService) {
  auto m = ParseManifest(kPatternWithComment, "p.yaml");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->service);
}

TEST(ManifestTest, AnEmptyChoraServiceBlockStillCounts) {
  auto m = ParseManifest("metadata: {dc_identifier: a.b}\nchora_service:\n", "x.yaml");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->service);
  EXPECT_FALSE(m->interval_seconds.has_value());
}

struct BadCase {
  const char* yaml;
  const char* expected;  // substring of the message
};

class BadManifestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadManifestTest, NamesSourceAndField) {
  auto m = ParseManifest(GetParam().yaml, "dir/bad.yaml");
  ASSERT_FALSE(m.ok());
  std::string message(m.status().message());
  EXPECT_EQ(message.rfind("dir/bad.yaml: ", 0), 0u) << message;
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadManifestTest,
    ::testing::Values(
        BadCase{"metadata: [unclosed", "not valid YAML: line 1"},
        BadCase{"- a\n- b\n", "must be a YAML mapping"},
        BadCase{"kind: Capability\n", "metadata: missing"},
        BadCase{"metadata: {dc_type: Service}\n", "metadata.dc_identifier: missing"},
        BadCase{"metadata: {dc_identifier: Chora.Registry}\n", "invalid identifier"},
        BadCase{"metadata: {dc_identifier: a..b}\n", "invalid identifier"},
        BadCase{"metadata: {dc_identifier: [a]}\n", "metadata.dc_identifier: must be a string"},
        BadCase{"metadata: {dc_identifier: a.b}\nchora_service: {health: {interval: ten}}\n",
                "chora_service.health.interval: \"ten\" is not a duration"},
        BadCase{"metadata: {dc_identifier: a.b}\nchora_service: {health: {heartbeat_ttl: 2.5}}\n",
                "chora_service.health.heartbeat_ttl"},
        BadCase{"metadata: {dc_identifier: a.b}\nchora_service: {health: [1]}\n",
                "chora_service.health: must be a mapping"},
        BadCase{"metadata: {dc_identifier: a.b}\nchora_service: {health: {timeout: -1}}\n",
                "chora_service.health.timeout: must not be negative"},
        BadCase{"metadata: {dc_identifier: a.b}\nchora_service: {health: {timeout: 0s}}\n",
                "chora_service.health.timeout: must be positive"},
        BadCase{"metadata: {dc_identifier: a.b}\nchora_service: {health: {timeout: 11m}}\n",
                "chora_service.health.timeout: must be at most 600 s"},
        // yaml-cpp keeps the first of two equal keys without a word: a manifest may not.
        BadCase{"metadata: {dc_identifier: a.b}\nchora_service: {}\nchora_service: {health: "
                "{interval: 1}}\n",
                "chora_service: duplicate key \"chora_service\""},
        BadCase{"metadata: {dc_identifier: a.b, dc_identifier: a.c}\n",
                "metadata.dc_identifier: duplicate key"},
        BadCase{"metadata: {dc_identifier: \"\xff\xfe\"}\n", "not UTF-8 text"},
        BadCase{"metadata: {dc_identifier: a\x01\n}\n", "invalid identifier \"a\\x01"},
        BadCase{"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, "
                "*a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, "
                "*c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
                "more than 100000 YAML nodes"}));

TEST(ManifestTest, ABinaryFileIsReportedWithoutItsBytes) {
  std::string binary("metadata: {dc_identifier: a.b}\0\x01\xfe\xff", 35);
  auto m = ParseManifest(binary, "bin.yaml");
  ASSERT_FALSE(m.ok());
  std::string message(m.status().message());
  EXPECT_EQ(message, "bin.yaml: not a text file (a NUL byte at offset 30)");
}

TEST(ManifestTest, TitleAndVersionKeepTheCrdsBounds) {
  std::string title(257, 't');
  auto long_title =
      ParseManifest("metadata: {dc_identifier: a.b, dc_title: " + title + "}\n", "t.yaml");
  ASSERT_FALSE(long_title.ok());
  EXPECT_NE(long_title.status().message().find(
                "t.yaml: metadata.dc_title: longer than 256 characters (257)"),
            std::string::npos)
      << long_title.status();
  auto long_version = ParseManifest(
      "metadata: {dc_identifier: a.b, dc_hasVersion: " + std::string(65, '1') + "}\n", "v.yaml");
  ASSERT_FALSE(long_version.ok());
  EXPECT_NE(long_version.status().message().find("metadata.dc_hasVersion: longer than 64"),
            std::string::npos);
  EXPECT_TRUE(
      ParseManifest("metadata: {dc_identifier: a.b, dc_title: " + std::string(256, 't') + "}\n",
                    "ok.yaml")
          .ok());
}

TEST(IdentifierTest, AcceptsTheRegistrysShape) {
  for (const char* ok : {"chora.devex.documentation_framework", "a", "a-b.c_d.e9", "x1.y2"}) {
    EXPECT_TRUE(IsValidIdentifier(ok)) << ok;
  }
  const std::vector<std::string> bad = {"",    ".a", "a.", "A.b",  "a/b",
                                        "a b", "_a", "a_", "a..b", std::string(254, 'a')};
  for (const std::string& id : bad) EXPECT_FALSE(IsValidIdentifier(id)) << id;
}

TEST(TimingTest, AppliesDefaultsAndChecksRanges) {
  Manifest m;
  m.source = "x.yaml";
  m.service = true;
  auto timing = ResolveTiming(m, HeartbeatTiming{10, 30});
  ASSERT_TRUE(timing.ok());
  EXPECT_EQ(timing->interval_seconds, 10);
  EXPECT_EQ(timing->ttl_seconds, 30);

  m.ttl_seconds = 1;
  auto short_ttl = ResolveTiming(m, HeartbeatTiming{});
  ASSERT_FALSE(short_ttl.ok());
  EXPECT_NE(short_ttl.status().message().find("heartbeat_ttl: TTL must be 2 to 86400 seconds"),
            std::string::npos);

  // The CRD's upper bounds hold for every source (a mirror is never refused).
  m.ttl_seconds = 1'000'000;
  auto long_ttl = ResolveTiming(m, HeartbeatTiming{});
  ASSERT_FALSE(long_ttl.ok());
  EXPECT_NE(long_ttl.status().message().find("TTL must be 2 to 86400 seconds, got 1000000"),
            std::string::npos)
      << long_ttl.status();
  m.ttl_seconds = 86400;
  m.interval_seconds = 3601;
  auto long_interval = ResolveTiming(m, HeartbeatTiming{});
  ASSERT_FALSE(long_interval.ok());
  EXPECT_NE(long_interval.status().message().find(
                "chora_service.health.interval: interval must be 1 to 3600 seconds"),
            std::string::npos)
      << long_interval.status();

  m.ttl_seconds = 10;
  m.interval_seconds = 10;
  auto slow = ResolveTiming(m, HeartbeatTiming{});
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.status().message().find("chora_service.health.interval: interval (10 s) must be "
                                         "below the TTL (10 s)"),
            std::string::npos)
      << slow.status();
}

TEST(CatalogTest, KeepsValidServicesAndReportsEveryBrokenOne) {
  std::vector<Document> docs = {
      {"a.yaml", kService},
      {"b.yaml", kPatternWithComment},
      {"c.yaml", "metadata: [broken"},
      {"d.yaml", "metadata: {dc_identifier: chora.devex.bootstrap}\nchora_service: {}\n"},
      {"e.yaml", "metadata: {dc_identifier: chora.devex.registry}\nchora_service: {}\n"},
      {"f.yaml",
       "metadata: {dc_identifier: chora.x.slow}\nchora_service: "
       "{health: {interval: 40}}\n"},
      {"g.yaml", "metadata: {dc_identifier: chora.x.declared, dc_type: Service}\n"},
  };
  Catalog catalog = BuildCatalog(docs, HeartbeatTiming{10, 30});
  ASSERT_EQ(catalog.services.size(), 2u);
  EXPECT_EQ(catalog.services[0].manifest.identifier, "chora.devex.registry");
  EXPECT_EQ(catalog.services[0].timing.interval_seconds, 5);
  EXPECT_EQ(catalog.services[1].manifest.identifier, "chora.devex.bootstrap");
  EXPECT_EQ(catalog.services[1].timing.ttl_seconds, 30);
  EXPECT_EQ(catalog.others.size(), 2u);
  ASSERT_EQ(catalog.errors.size(), 3u);
  EXPECT_NE(catalog.errors[0].find("c.yaml: not valid YAML"), std::string::npos);
  EXPECT_NE(catalog.errors[1].find("e.yaml: metadata.dc_identifier: duplicate "
                                   "\"chora.devex.registry\", already declared in a.yaml"),
            std::string::npos)
      << catalog.errors[1];
  EXPECT_NE(catalog.errors[2].find("f.yaml: chora_service.health.interval"), std::string::npos);
  ASSERT_EQ(catalog.notes.size(), 1u);
  EXPECT_NE(catalog.notes[0].find("g.yaml: dc_type is Service but there is no chora_service"),
            std::string::npos);
}

TEST(DirectoryTest, ReadsYamlAndYmlFilesSorted) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("manifest_test_" + std::to_string(::getpid()));
  fs::create_directories(dir / "nested.yaml");
  for (const char* name : {"b.yml", "a.yaml", "notes.txt", "empty.yaml"}) {
    std::ofstream(dir / name) << (std::string(name) == "empty.yaml" ? "" : "metadata: {}\n");
  }
  auto contents = ReadManifestDirectory(dir.string());
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_EQ(contents->documents.size(), 3u);
  EXPECT_EQ(fs::path(contents->documents[0].source).filename(), "a.yaml");
  EXPECT_EQ(fs::path(contents->documents[1].source).filename(), "b.yml");
  EXPECT_EQ(fs::path(contents->documents[2].source).filename(), "empty.yaml");
  fs::remove_all(dir);
  auto missing = ReadManifestDirectory(dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir.string()), std::string::npos);
}

// Every entry named like a manifest gets a verdict; nothing throws and nothing blocks.
TEST(DirectoryTest, EveryEntryGetsAVerdict) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("manifest_verdicts_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "dir.yaml");
  std::ofstream(dir / "good.yaml") << "metadata: {dc_identifier: a.b}\n";
  std::ofstream(dir / "notes.txt") << "x";
  std::ofstream(dir / "big.yaml") << std::string((1 << 20) + 1, '#');
  fs::create_symlink("good.yaml", dir / "link.yaml");
  fs::create_symlink("missing.yaml", dir / "broken.yaml");
  fs::create_symlink("loop2.yaml", dir / "loop1.yaml");
  fs::create_symlink("loop1.yaml", dir / "loop2.yaml");
  ASSERT_EQ(::mkfifo((dir / "pipe.yaml").c_str(), 0600), 0);

  auto contents = ReadManifestDirectory(dir.string());
  ASSERT_TRUE(contents.ok()) << contents.status();
  std::vector<std::string> read;
  for (const Document& d : contents->documents) read.push_back(fs::path(d.source).filename());
  EXPECT_EQ(read, (std::vector<std::string>{"good.yaml", "link.yaml"}));
  std::string errors;
  for (const std::string& e : contents->errors) errors += e + "\n";
  EXPECT_EQ(contents->errors.size(), 6u) << errors;
  for (const char* expected :
       {"big.yaml: larger than 1048576 bytes", "broken.yaml: a broken symlink",
        "dir.yaml: a directory, not a file", "loop1.yaml: a symlink loop",
        "loop2.yaml: a symlink loop", "pipe.yaml: a FIFO, not a regular file"}) {
    EXPECT_NE(errors.find(expected), std::string::npos) << expected << " in\n" << errors;
  }
  ASSERT_EQ(contents->ignored.size(), 1u);
  EXPECT_NE(contents->ignored[0].find("notes.txt: not named *.yaml"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hb::manifest
