// RestKubeClient's requests against the kube-emulator: CRUD, conflicts, status, patches,
// lists with selectors and pages, custom resources, and error mapping under injected faults.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "kube/errors.h"
#include "kube_test_util.h"

namespace hb::kube::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class RestClientTest : public EmulatorTest {};

std::vector<std::string> Names(const std::vector<nlohmann::json>& items) {
  std::vector<std::string> names;
  for (const auto& item : items) names.push_back(ObjectName(item));
  return names;
}

TEST_F(RestClientTest, ConfigMapLifecycle) {
  const std::string name = UniqueName("cm");
  auto created = client_->Create(kConfigMaps, ConfigMap(name, {{"a", "1"}}));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(ObjectNamespace(*created), "default");
  EXPECT_FALSE(ObjectResourceVersion(*created).empty());
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());

  auto again = client_->Create(kConfigMaps, ConfigMap(name, {{"a", "1"}}));
  EXPECT_TRUE(kube::IsAlreadyExists(again.status())) << again.status();

  auto got = client_->Get(kConfigMaps, name);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["a"], "1");

  nlohmann::json changed = *got;
  changed["data"]["a"] = "2";
  auto updated = client_->Update(kConfigMaps, changed);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_NE(ObjectResourceVersion(*updated), ObjectResourceVersion(*got));

  changed["data"]["a"] = "3";  // still carries the old resourceVersion
  auto stale = client_->Update(kConfigMaps, changed);
  EXPECT_TRUE(IsConflict(stale.status())) << stale.status();
  EXPECT_FALSE(IsRetryable(stale.status()));

  ASSERT_TRUE(client_->Delete(kConfigMaps, name, {}).ok());
  auto gone = client_->Get(kConfigMaps, name);
  EXPECT_TRUE(kube::IsNotFound(gone.status())) << gone.status();
  EXPECT_THAT(std::string(gone.status().message()), HasSubstr(name));
  EXPECT_TRUE(kube::IsNotFound(client_->Delete(kConfigMaps, name, {})));
  auto missing_update = client_->Update(kConfigMaps, changed);
  EXPECT_TRUE(kube::IsNotFound(missing_update.status())) << missing_update.status();
}

TEST_F(RestClientTest, NamespaceFromTheObjectAndClusterScopedResources) {
  const std::string ns = UniqueName("ns");
  auto created = client_->Create(
      kNamespaces, {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  ASSERT_TRUE(created.ok()) << created.status();
  nlohmann::json cm = ConfigMap("in-" + ns, {{"k", "v"}});
  cm["metadata"]["namespace"] = ns;
  ResourceRef any_namespace = kConfigMaps.InNamespace("");
  auto stored = client_->Create(any_namespace, cm);  // the object's namespace is used
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(ObjectNamespace(*stored), ns);
  EXPECT_TRUE(client_->Get(kConfigMaps.InNamespace(ns), "in-" + ns).ok());
  auto missing_ns = client_->Create(kConfigMaps.InNamespace("no-such-ns"), ConfigMap("x", {}));
  EXPECT_TRUE(kube::IsNotFound(missing_ns.status())) << missing_ns.status();
}

TEST_F(RestClientTest, PatchTypes) {
  const std::string name = UniqueName("patch");
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(name, {{"a", "1"}, {"b", "2"}})).ok());

  auto merged = client_->Patch(kConfigMaps, name, PatchType::kMerge,
                               {{"data", {{"a", nullptr}, {"c", "3"}}}}, {});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ((*merged)["data"], nlohmann::json({{"b", "2"}, {"c", "3"}}));

  auto json_patch = client_->Patch(
      kConfigMaps, name, PatchType::kJson,
      nlohmann::json::array({{{"op", "replace"}, {"path", "/data/b"}, {"value", "20"}}}), {});
  ASSERT_TRUE(json_patch.ok()) << json_patch.status();
  EXPECT_EQ((*json_patch)["data"]["b"], "20");

  auto failed_test = client_->Patch(
      kConfigMaps, name, PatchType::kJson,
      nlohmann::json::array({{{"op", "test"}, {"path", "/data/b"}, {"value", "nope"}}}), {});
  EXPECT_TRUE(IsInvalid(failed_test.status())) << failed_test.status();

  auto strategic = client_->Patch(kConfigMaps, name, PatchType::kStrategic,
                                  {{"metadata", {{"labels", {{"tier", "web"}}}}}}, {});
  ASSERT_TRUE(strategic.ok()) << strategic.status();
  EXPECT_EQ((*strategic)["metadata"]["labels"]["tier"], "web");

  const std::string applied = UniqueName("applied");
  PatchOptions apply;
  apply.field_manager = "heartbeat-test";
  auto created = client_->Patch(kConfigMaps, applied, PatchType::kApply,
                                ConfigMap(applied, {{"x", "1"}}), apply);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["data"]["x"], "1");

  nlohmann::json stale = {{"metadata", {{"resourceVersion", "1"}}}, {"data", {{"z", "1"}}}};
  auto conflict = client_->Patch(kConfigMaps, name, PatchType::kMerge, stale, {});
  EXPECT_TRUE(IsConflict(conflict.status())) << conflict.status();

  EXPECT_TRUE(absl::IsInvalidArgument(
      client_->Patch(kConfigMaps, name, PatchType::kJson, {{"not", "an array"}}, {}).status()));
}

TEST_F(RestClientTest, ListWithSelectorsAndPages) {
  const std::string tag = UniqueName("list");
  for (int i = 0; i < 5; ++i) {
    auto labels = nlohmann::json{{"suite", tag}, {"parity", i % 2 == 0 ? "even" : "odd"}};
    ASSERT_TRUE(
        client_->Create(kConfigMaps, ConfigMap(absl::StrCat(tag, "-", i), {}, labels)).ok());
  }
  ListOptions even;
  even.label_selector = absl::StrCat("suite=", tag, ",parity=even");
  auto evens = client_->List(kConfigMaps, even);
  ASSERT_TRUE(evens.ok()) << evens.status();
  EXPECT_THAT(Names(evens->items), UnorderedElementsAre(tag + "-0", tag + "-2", tag + "-4"));
  EXPECT_FALSE(evens->resource_version.empty());
  ASSERT_FALSE(evens->items.empty());
  EXPECT_EQ(evens->items[0]["kind"], "ConfigMap");  // filled in from the list's kind
  EXPECT_EQ(evens->items[0]["apiVersion"], "v1");

  ListOptions paged;
  paged.label_selector = absl::StrCat("suite=", tag);
  paged.limit = 2;
  auto first = client_->List(kConfigMaps, paged);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->items.size(), 2u);
  ASSERT_FALSE(first->continue_token.empty());
  paged.continue_token = first->continue_token;
  auto second = client_->List(kConfigMaps, paged);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->items.size(), 2u);

  paged.continue_token.clear();
  auto all = ListAll(*client_, kConfigMaps, paged);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->items.size(), 5u);

  ListOptions by_name;
  by_name.field_selector = absl::StrCat("metadata.name=", tag, "-3");
  auto one = client_->List(kConfigMaps.InNamespace(""), by_name);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(Names(one->items), ElementsAre(tag + "-3"));

  ListOptions bad;
  bad.field_selector = "spec.nothing=1";
  EXPECT_TRUE(IsInvalid(client_->List(kConfigMaps, bad).status()));
}

TEST_F(RestClientTest, ExpiredContinueTokenIsGone) {
  const std::string tag = UniqueName("expire");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        client_->Create(kConfigMaps, ConfigMap(absl::StrCat(tag, "-", i), {}, {{"suite", tag}}))
            .ok());
  }
  ListOptions paged;
  paged.label_selector = absl::StrCat("suite=", tag);
  paged.limit = 1;
  auto first = client_->List(kConfigMaps, paged);
  ASSERT_TRUE(first.ok()) << first.status();
  // A write after the list, then the history is forgotten: the list's version is too old.
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(tag + "-after", {})).ok());
  ASSERT_TRUE(emulator_->SetFaults({{"compact", true}}).ok());
  paged.continue_token = first->continue_token;
  auto expired = client_->List(kConfigMaps, paged);
  EXPECT_TRUE(IsGone(expired.status())) << expired.status();
}

constexpr char kWidgetCrd[] = R"json({
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.dev"},
  "spec": {
    "group": "example.dev",
    "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {
        "type": "object",
        "properties": {
          "spec": {"type": "object", "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "color": {"type": "string"}}},
          "status": {"type": "object", "properties": {
            "phase": {"type": "string"}, "observedGeneration": {"type": "integer"}}}
        }}}
    }]
  }
})json";

bool Established(const nlohmann::json& crd) {
  if (!crd.contains("status") || !crd["status"].contains("conditions")) return false;
  for (const auto& c : crd["status"]["conditions"]) {
    if (c.value("type", "") == "Established" && c.value("status", "") == "True") return true;
  }
  return false;
}

TEST_F(RestClientTest, CustomResourceWithStatusSubresource) {
  PatchOptions apply;
  apply.field_manager = "heartbeat-test";
  auto crd = client_->Patch(kCrds, "widgets.example.dev", PatchType::kApply,
                            nlohmann::json::parse(kWidgetCrd), apply);  // server-side apply
  ASSERT_TRUE(crd.ok()) << crd.status();
  ASSERT_TRUE(hb::testing::WaitFor(
      [&] {
        auto got = client_->Get(kCrds, "widgets.example.dev");
        return got.ok() && Established(*got);
      },
      absl::Seconds(10)))
      << "the CRD never became Established";

  const ResourceRef widgets{"example.dev", "v1", "widgets", "default"};
  const std::string name = UniqueName("widget");
  nlohmann::json widget = {{"apiVersion", "example.dev/v1"},
                           {"kind", "Widget"},
                           {"metadata", {{"name", name}}},
                           {"spec", {{"size", 3}, {"color", "blue"}}},
                           {"status", {{"phase", "ignored on create"}}}};
  auto created = client_->Create(widgets, widget);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->contains("status") && (*created)["status"].contains("phase"));
  EXPECT_EQ((*created)["metadata"]["generation"], 1);

  nlohmann::json with_status = *created;
  with_status["status"] = {{"phase", "Healthy"}, {"observedGeneration", 1}};
  with_status["spec"]["size"] = 9;  // ignored by /status
  auto status_updated = client_->UpdateStatus(widgets, with_status);
  ASSERT_TRUE(status_updated.ok()) << status_updated.status();
  EXPECT_EQ((*status_updated)["status"]["phase"], "Healthy");
  EXPECT_EQ((*status_updated)["spec"]["size"], 3);
  EXPECT_EQ((*status_updated)["metadata"]["generation"], 1);

  auto stale_status = client_->UpdateStatus(widgets, with_status);  // old resourceVersion
  EXPECT_TRUE(IsConflict(stale_status.status())) << stale_status.status();

  nlohmann::json spec_change = *status_updated;
  spec_change["spec"]["size"] = 5;
  spec_change["status"]["phase"] = "ignored by the main resource";
  auto updated = client_->Update(widgets, spec_change);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ((*updated)["spec"]["size"], 5);
  EXPECT_EQ((*updated)["status"]["phase"], "Healthy");
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  PatchOptions status_patch;
  status_patch.subresource = "status";
  auto patched = client_->Patch(widgets, name, PatchType::kMerge,
                                {{"status", {{"phase", "Degraded"}}}}, status_patch);
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["status"]["phase"], "Degraded");

  nlohmann::json too_big = *patched;
  too_big["spec"]["size"] = 50;
  auto invalid = client_->Update(widgets, too_big);
  EXPECT_TRUE(IsInvalid(invalid.status())) << invalid.status();
  EXPECT_THAT(std::string(invalid.status().message()), HasSubstr("spec.size"));

  auto strategic = client_->Patch(widgets, name, PatchType::kStrategic, {{"spec", {}}}, {});
  EXPECT_EQ(strategic.status().code(), absl::StatusCode::kUnimplemented) << strategic.status();

  auto list = client_->List(widgets.InNamespace(""), {});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_THAT(Names(list->items), Contains(name));
  ASSERT_TRUE(client_->Delete(widgets, name, {}).ok());
  EXPECT_TRUE(kube::IsNotFound(client_->Get(widgets, name).status()));
}

TEST_F(RestClientTest, DeleteWithPreconditions) {
  const std::string name = UniqueName("precond");
  auto created = client_->Create(kConfigMaps, ConfigMap(name, {}));
  ASSERT_TRUE(created.ok());
  DeleteOptions wrong;
  wrong.uid = "not-the-uid";
  EXPECT_TRUE(IsConflict(client_->Delete(kConfigMaps, name, wrong)));
  DeleteOptions right;
  right.uid = (*created)["metadata"]["uid"];
  right.propagation_policy = "Background";
  EXPECT_TRUE(client_->Delete(kConfigMaps, name, right).ok());
}

TEST_F(RestClientTest, ServerErrorsAreRetryable) {
  const std::string name = UniqueName("faults");
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(name, {})).ok());

  ASSERT_TRUE(emulator_->SetFaults({{"errorRate", 1}, {"errorCode", 500}}).ok());
  auto internal = client_->Get(kConfigMaps, name);
  EXPECT_EQ(internal.status().code(), absl::StatusCode::kInternal) << internal.status();
  EXPECT_TRUE(IsRetryable(internal.status()));

  ASSERT_TRUE(emulator_->SetFaults({{"errorCode", 503}}).ok());
  auto unavailable = client_->List(kConfigMaps, {});
  EXPECT_EQ(unavailable.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsRetryable(unavailable.status()));

  ASSERT_TRUE(emulator_->SetFaults({{"errorCode", 429}}).ok());
  auto throttled = client_->Get(kConfigMaps, name);
  EXPECT_EQ(throttled.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsRetryable(throttled.status()));
  EXPECT_EQ(RetryAfter(throttled.status()), absl::Seconds(1));
  EXPECT_THAT(std::string(throttled.status().message()), HasSubstr("retry after 1s"));

  ASSERT_TRUE(emulator_->ResetFaults().ok());
  EXPECT_TRUE(client_->Get(kConfigMaps, name).ok());
}

TEST_F(RestClientTest, RequestTimeoutAndUnreachableServer) {
  RestClientOptions options;
  options.request_timeout = absl::Milliseconds(300);
  auto impatient = NewClient(options);
  ASSERT_NE(impatient, nullptr);
  ASSERT_TRUE(emulator_->SetFaults({{"latencyMs", 3000}}).ok());
  absl::Time start = absl::Now();
  auto slow = impatient->Get(kConfigMaps, "anything");
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded) << slow.status();
  EXPECT_TRUE(IsRetryable(slow.status()));
  EXPECT_LT(took, absl::Seconds(2));
  ASSERT_TRUE(emulator_->ResetFaults().ok());

  KubeConfig nowhere;
  nowhere.server = absl::StrCat("http://127.0.0.1:", hb::testing::FreePort());
  auto client = RestKubeClient::FromConfig(nowhere);
  ASSERT_TRUE(client.ok());
  auto refused = (*client)->Get(kConfigMaps, "x");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(IsRetryable(refused.status()));
}

TEST_F(RestClientTest, UserAgentAndFieldManagerAreSent) {
  const std::string name = UniqueName("ua");
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(name, {})).ok());
  ASSERT_TRUE(client_->Get(kConfigMaps, name).ok());
  int creates = 0, api_requests = 0;
  for (const auto& request : emulator_->Requests()) {
    if (request.value("verb", "").empty()) continue;  // discovery, /version
    ++api_requests;
    EXPECT_EQ(request.value("userAgent", ""), DefaultUserAgent()) << request.dump();
    if (request.value("verb", "") == "create") {
      ++creates;
      EXPECT_THAT(request.value("query", ""), HasSubstr("fieldManager=heartbeat-operator"));
    }
  }
  EXPECT_GT(creates, 0);
  EXPECT_GT(api_requests, creates);
  EXPECT_THAT(DefaultUserAgent(), ::testing::StartsWith("heartbeat-operator/"));
}

TEST_F(RestClientTest, ConcurrentCallsShareOneClient) {
  const std::string name = UniqueName("shared");
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(name, {{"n", "0"}})).ok());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (client_->Get(kConfigMaps, name).ok()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
}

}  // namespace
}  // namespace hb::kube::testing
