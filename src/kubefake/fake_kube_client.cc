// FakeKubeClient: reads, fault knobs, inspection and the event history. Writes are in
// fake_objects.cc, Watch in fake_watch.cc.
#include "kubefake/fake_kube_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "kubefake/internal.h"
#include "kubefake/selectors.h"

namespace hb::kubefake {
namespace {

using internal::CollectionOf;

constexpr absl::string_view kContinueExpired =
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results.";

// The continue token: the snapshot's version and the last key served, opaque to clients.
std::string EncodeContinue(int64_t rv, const std::pair<std::string, std::string>& last) {
  nlohmann::json token = {{"rv", rv}, {"ns", last.first}, {"name", last.second}};
  return absl::WebSafeBase64Escape(token.dump());
}

bool DecodeContinue(const std::string& text, int64_t* rv,
                    std::pair<std::string, std::string>* last) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(text, &raw)) return false;
  nlohmann::json token = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!token.is_object() || !token.contains("rv") || !token["rv"].is_number_integer() ||
      !token.contains("ns") || !token["ns"].is_string() || !token.contains("name") ||
      !token["name"].is_string()) {
    return false;
  }
  *rv = token["rv"].get<int64_t>();
  *last = {token["ns"].get<std::string>(), token["name"].get<std::string>()};
  return true;
}

}  // namespace

const char* VerbName(Verb verb) {
  switch (verb) {
    case Verb::kGet:
      return "get";
    case Verb::kList:
      return "list";
    case Verb::kCreate:
      return "create";
    case Verb::kUpdate:
    case Verb::kUpdateStatus:
      return "update";
    case Verb::kPatch:
      return "patch";
    case Verb::kDelete:
      return "delete";
    case Verb::kWatch:
      return "watch";
  }
  return "unknown";
}

FakeKubeClient::FakeKubeClient() : FakeKubeClient(RealClock::Get()) {}

FakeKubeClient::FakeKubeClient(Clock& clock, FakeKubeClientOptions options)
    : clock_(clock), history_limit_(std::max<size_t>(1, options.history_limit)) {}

FakeKubeClient::~FakeKubeClient() = default;

absl::Status FakeKubeClient::BeginCall(Verb verb, const kube::ResourceRef& ref,
                                       absl::string_view name, absl::string_view subresource,
                                       absl::string_view resource_version) {
  absl::MutexLock lock(&mu_);
  ++calls_[verb];
  requests_.push_back(
      {verb, ref, std::string(name), std::string(subresource), std::string(resource_version)});
  auto it = failures_.find(verb);
  if (it == failures_.end() || it->second.empty()) return absl::OkStatus();
  absl::Status status = std::move(it->second.front());
  it->second.pop_front();
  return status;
}

absl::StatusOr<nlohmann::json> FakeKubeClient::Get(const kube::ResourceRef& ref,
                                                   absl::string_view name) {
  absl::Status begun = BeginCall(Verb::kGet, ref, name, "", "");
  if (!begun.ok()) return begun;
  absl::MutexLock lock(&mu_);
  const nlohmann::json* found = FindLocked(CollectionOf(ref), {ref.namespace_, std::string(name)});
  if (found == nullptr) return internal::NotFound(ref, name);
  return *found;
}

absl::StatusOr<kube::ListResult> FakeKubeClient::List(const kube::ResourceRef& ref,
                                                      const kube::ListOptions& options) {
  absl::Status begun = BeginCall(Verb::kList, ref, "", "", options.resource_version);
  if (!begun.ok()) return begun;
  auto selector = ObjectSelector::Parse(options.label_selector, options.field_selector);
  if (!selector.ok()) return selector.status();
  if (options.limit < 0) return internal::BadRequest("invalid limit");

  absl::MutexLock lock(&mu_);
  int64_t at = rv_;
  ObjectKey after;
  bool has_after = false;
  Objects snapshot;
  const Objects* state = &snapshot;
  if (!options.continue_token.empty()) {
    if (!DecodeContinue(options.continue_token, &at, &after)) {
      return internal::BadRequest("continue key is not valid");
    }
    if (TooOldLocked(at)) return internal::Expired(kContinueExpired);
    has_after = true;
    snapshot = SnapshotLocked(CollectionOf(ref), at);
  } else if (auto it = objects_.find(CollectionOf(ref)); it != objects_.end()) {
    state = &it->second;
  }

  kube::ListResult result;
  result.resource_version = std::to_string(at);
  auto it = has_after ? state->upper_bound(after) : state->begin();
  for (; it != state->end(); ++it) {
    if (!ref.namespace_.empty() && it->first.first != ref.namespace_) continue;
    if (!selector->Matches(it->second)) continue;
    if (options.limit > 0 && static_cast<int64_t>(result.items.size()) == options.limit) {
      result.continue_token = EncodeContinue(at, after);
      break;
    }
    result.items.push_back(it->second);
    after = it->first;
  }
  return result;
}

absl::StatusOr<nlohmann::json> FakeKubeClient::Create(const kube::ResourceRef& ref,
                                                      const nlohmann::json& object) {
  absl::Status begun = BeginCall(Verb::kCreate, ref, kube::ObjectName(object), "", "");
  if (!begun.ok()) return begun;
  absl::MutexLock lock(&mu_);
  return CreateLocked(ref, object);
}

absl::StatusOr<nlohmann::json> FakeKubeClient::Update(const kube::ResourceRef& ref,
                                                      const nlohmann::json& object) {
  absl::Status begun = BeginCall(Verb::kUpdate, ref, kube::ObjectName(object), "", "");
  if (!begun.ok()) return begun;
  absl::MutexLock lock(&mu_);
  return WriteLocked({ref, kube::ObjectName(object), object, /*status_only=*/false});
}

absl::StatusOr<nlohmann::json> FakeKubeClient::UpdateStatus(const kube::ResourceRef& ref,
                                                            const nlohmann::json& object) {
  absl::Status begun = BeginCall(Verb::kUpdateStatus, ref, kube::ObjectName(object), "status", "");
  if (!begun.ok()) return begun;
  absl::MutexLock lock(&mu_);
  return WriteLocked({ref, kube::ObjectName(object), object, /*status_only=*/true});
}

absl::StatusOr<nlohmann::json> FakeKubeClient::Patch(const kube::ResourceRef& ref,
                                                     absl::string_view name, kube::PatchType type,
                                                     const nlohmann::json& patch,
                                                     const kube::PatchOptions& options) {
  absl::Status begun = BeginCall(Verb::kPatch, ref, name, options.subresource, "");
  if (!begun.ok()) return begun;
  absl::MutexLock lock(&mu_);
  return PatchLocked(ref, std::string(name), type, patch, options);
}

absl::Status FakeKubeClient::Delete(const kube::ResourceRef& ref, absl::string_view name,
                                    const kube::DeleteOptions& options) {
  absl::Status begun = BeginCall(Verb::kDelete, ref, name, "", "");
  if (!begun.ok()) return begun;
  absl::MutexLock lock(&mu_);
  return DeleteLocked(ref, std::string(name), options);
}

// --- Faults -----------------------------------------------------------------------------

void FakeKubeClient::FailNext(Verb verb, absl::Status status, int times) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < times; ++i) failures_[verb].push_back(status);
}

void FakeKubeClient::ForceGoneOnNextWatch(int times) {
  absl::MutexLock lock(&mu_);
  force_gone_ += times;
}

void FakeKubeClient::CloseWatches() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, watch] : watches_) watch.close = true;
  changed_.NotifyAll();
}

void FakeKubeClient::SendBookmarks() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, watch] : watches_) ++watch.bookmarks;
  changed_.NotifyAll();
}

void FakeKubeClient::SetHistoryLimit(size_t n) {
  absl::MutexLock lock(&mu_);
  history_limit_ = std::max<size_t>(1, n);
  TrimHistoryLocked();
  changed_.NotifyAll();
}

void FakeKubeClient::CompactHistory() {
  absl::MutexLock lock(&mu_);
  history_.clear();
  oldest_replayable_ = rv_;
  changed_.NotifyAll();
}

// --- Set-up and inspection --------------------------------------------------------------

nlohmann::json FakeKubeClient::Seed(const kube::ResourceRef& ref, nlohmann::json object) {
  absl::MutexLock lock(&mu_);
  std::string ns = ref.namespace_.empty() ? kube::ObjectNamespace(object) : ref.namespace_;
  if (FindLocked(CollectionOf(ref), {ns, kube::ObjectName(object)}) == nullptr) {
    if (object.contains("metadata")) object["metadata"].erase("resourceVersion");
    auto created = CreateLocked(ref, std::move(object));
    return created.ok() ? *created : nlohmann::json();
  }
  if (object.contains("metadata")) object["metadata"].erase("resourceVersion");
  auto written = WriteLocked({ref, kube::ObjectName(object), object, /*status_only=*/false});
  if (!written.ok()) return nlohmann::json();
  // Seeding replaces the status too.
  written = WriteLocked({ref, kube::ObjectName(object), object, /*status_only=*/true});
  return written.ok() ? *written : nlohmann::json();
}

std::optional<nlohmann::json> FakeKubeClient::Object(const kube::ResourceRef& ref,
                                                     absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto collection = objects_.find(CollectionOf(ref));
  if (collection == objects_.end()) return std::nullopt;
  auto it = collection->second.find({ref.namespace_, std::string(name)});
  if (it == collection->second.end()) return std::nullopt;
  return it->second;
}

int64_t FakeKubeClient::ResourceVersion() const {
  absl::MutexLock lock(&mu_);
  return rv_;
}

int64_t FakeKubeClient::Calls(Verb verb) const {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(verb);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<FakeRequest> FakeKubeClient::Requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int FakeKubeClient::OpenWatches() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(watches_.size());
}

bool FakeKubeClient::WaitForWatches(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(watches_.size()) >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

// --- History ----------------------------------------------------------------------------

bool FakeKubeClient::TooOldLocked(int64_t rv) const { return rv < oldest_replayable_; }

std::vector<const FakeKubeClient::Event*> FakeKubeClient::EventsAfterLocked(int64_t rv) const {
  std::vector<const Event*> events;
  if (history_.empty() || rv >= rv_) return events;
  int64_t first = history_.front().rv;
  size_t start = rv + 1 > first ? static_cast<size_t>(rv + 1 - first) : 0;
  for (size_t i = start; i < history_.size(); ++i) events.push_back(&history_[i]);
  return events;
}

FakeKubeClient::Objects FakeKubeClient::SnapshotLocked(const std::string& collection,
                                                       int64_t rv) const {
  Objects state;
  if (auto it = objects_.find(collection); it != objects_.end()) state = it->second;
  std::vector<const Event*> later = EventsAfterLocked(rv);
  for (auto it = later.rbegin(); it != later.rend(); ++it) {
    const Event& event = **it;
    if (event.collection != collection) continue;
    if (event.prev.is_null()) {
      state.erase(event.key);
    } else {
      state[event.key] = event.prev;
    }
  }
  return state;
}

void FakeKubeClient::TrimHistoryLocked() {
  while (history_.size() > history_limit_) {
    history_.pop_front();
    oldest_replayable_ = history_.front().rv - 1;
  }
}

}  // namespace hb::kubefake
