#include "kube/rest_client.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "kube/http_transport.h"
#include "kube/token_source.h"

#ifndef HB_VERSION
#define HB_VERSION "dev"
#endif

namespace hb::kube {
namespace {

constexpr char kJson[] = "application/json";

std::string What(absl::string_view method, absl::string_view target) {
  return absl::StrCat(method, " ", target.substr(0, target.find('?')));
}

// JSON text of an object; nlohmann throws on strings that are not UTF-8.
absl::StatusOr<std::string> Serialize(const nlohmann::json& value) {
  try {
    return value.dump();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("object cannot be sent as JSON: ", e.what()));
  }
}

const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategic:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";  // JSON is YAML
  }
  return kJson;
}

// For writes: an empty namespace_ takes the object's metadata.namespace.
ResourceRef WriteRef(const ResourceRef& ref, const nlohmann::json& object) {
  if (!ref.namespace_.empty()) return ref;
  return ref.InNamespace(ObjectNamespace(object));
}

// "FooList" → "Foo".
std::string ItemKind(const nlohmann::json& list) {
  auto kind = list.find("kind");
  if (kind == list.end() || !kind->is_string()) return "";
  std::string name = kind->get<std::string>();
  return absl::EndsWith(name, "List") ? name.substr(0, name.size() - 4) : "";
}

std::string StringAt(const nlohmann::json& object, const char* outer, const char* key) {
  auto o = object.find(outer);
  if (o == object.end() || !o->is_object()) return "";
  auto it = o->find(key);
  return it != o->end() && it->is_string() ? it->get<std::string>() : "";
}

absl::StatusOr<ListResult> ParseList(const std::string& what, nlohmann::json list) {
  auto items = list.find("items");
  if (items != list.end() && !items->is_null() && !items->is_array()) {
    return absl::InternalError(absl::StrCat(what, ": the answer's items is not a list"));
  }
  ListResult result;
  result.resource_version = StringAt(list, "metadata", "resourceVersion");
  result.continue_token = StringAt(list, "metadata", "continue");
  if (items == list.end() || items->is_null()) return result;
  const std::string kind = ItemKind(list);
  auto api_version = list.find("apiVersion");
  result.items.reserve(items->size());
  for (auto& item : *items) {
    if (item.is_object()) {
      if (!item.contains("kind") && !kind.empty()) item["kind"] = kind;
      if (!item.contains("apiVersion") && api_version != list.end()) {
        item["apiVersion"] = *api_version;
      }
    }
    result.items.push_back(std::move(item));
  }
  return result;
}

}  // namespace

std::string DefaultUserAgent() { return absl::StrCat("heartbeat-operator/", HB_VERSION); }

absl::StatusOr<std::unique_ptr<RestKubeClient>> RestKubeClient::FromConfig(
    const KubeConfig& config, RestClientOptions options) {
  HB_ASSIGN_OR_RETURN(auto transport,
                      HttpTransport::Create(config, {options.user_agent, options.request_timeout}));
  Clock& clock = options.clock != nullptr ? *options.clock : RealClock::Get();
  options.clock = &clock;
  auto tokens = std::make_unique<TokenSource>(config.token, config.token_file, clock,
                                              options.token_refresh_interval);
  return std::unique_ptr<RestKubeClient>(
      new RestKubeClient(std::move(options), std::move(transport), std::move(tokens)));
}

RestKubeClient::RestKubeClient(RestClientOptions options, std::unique_ptr<HttpTransport> transport,
                               std::unique_ptr<TokenSource> tokens)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      tokens_(std::move(tokens)),
      clock_(*options_.clock),
      bucket_(std::make_unique<TokenBucket>(clock_, options_.qps, options_.burst)) {}

void RestKubeClient::Throttle(const HttpRequest& request) {
  absl::Duration wait = bucket_->Reserve();
  if (wait <= absl::ZeroDuration()) return;
  if (wait >= absl::Seconds(1)) {
    int64_t suppressed = 0;
    bool log;
    {
      absl::MutexLock lock(&throttle_mu_);
      log = throttle_log_.Allow(clock_.Now(), &suppressed);
    }
    if (log) {
      LogInfo("Waiting for the client-side rate limit (--kube-api-qps, --kube-api-burst)",
              {{"wait", absl::FormatDuration(absl::Trunc(wait, absl::Milliseconds(1)))},
               {"method", request.method},
               {"target", request.target},
               {"similar_lines_suppressed", suppressed}});
    }
  }
  clock_.SleepFor(wait, CancelToken());
}

RestKubeClient::~RestKubeClient() = default;

absl::StatusOr<HttpResponse> RestKubeClient::SendAuthorized(HttpRequest request) {
  for (int attempt = 0;; ++attempt) {
    HB_ASSIGN_OR_RETURN(std::string token, tokens_->Token());
    request.authorization = token.empty() ? "" : absl::StrCat("Bearer ", token);
    Throttle(request);
    absl::Time start = absl::Now();
    auto response = transport_->Send(request, options_.request_timeout);
    if (Logger::Default().Enabled(LogLevel::kDebug)) {
      LogDebug("Kubernetes API request", {{"method", request.method},
                                          {"target", request.target},
                                          {"code", response.ok() ? response->status : 0},
                                          {"ms", absl::ToDoubleMilliseconds(absl::Now() - start)}});
    }
    // A 401 with a token file: the token may have rotated since it was last read.
    if (response.ok() && response->status == 401 && attempt == 0 && tokens_->Refresh()) continue;
    return response;
  }
}

absl::StatusOr<nlohmann::json> RestKubeClient::Call(const std::string& method,
                                                    const std::string& target,
                                                    const std::string& content_type,
                                                    const std::string& body) {
  const std::string what = What(method, target);
  HB_ASSIGN_OR_RETURN(HttpResponse response,
                      SendAuthorized(HttpRequest{method, target, content_type, body, ""}));
  if (response.status < 200 || response.status > 299) {
    return StatusFromHttp(what, response.status, response.body, response.retry_after);
  }
  if (response.body.empty()) return nlohmann::json::object();
  auto json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InternalError(absl::StrCat(what, ": the API server's answer is not JSON"));
  }
  return json;
}

std::string RestKubeClient::WriteQuery(absl::string_view field_manager) const {
  return EncodeQuery({{"fieldManager", std::string(field_manager.empty() ? options_.field_manager
                                                                         : field_manager)}});
}

absl::StatusOr<nlohmann::json> RestKubeClient::Get(const ResourceRef& ref, absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("Get needs an object name");
  HB_ASSIGN_OR_RETURN(std::string path, ResourcePath(ref, name));
  return Call("GET", path, "", "");
}

absl::StatusOr<nlohmann::json> RestKubeClient::GetPath(const std::string& path) {
  return Call("GET", path, "", "");
}

absl::StatusOr<ListResult> RestKubeClient::List(const ResourceRef& ref,
                                                const ListOptions& options) {
  HB_ASSIGN_OR_RETURN(std::string path, ResourcePath(ref));
  absl::StrAppend(&path,
                  EncodeQuery({{"labelSelector", options.label_selector},
                               {"fieldSelector", options.field_selector},
                               {"limit", options.limit > 0 ? absl::StrCat(options.limit) : ""},
                               {"continue", options.continue_token},
                               {"resourceVersion", options.resource_version}}));
  HB_ASSIGN_OR_RETURN(nlohmann::json list, Call("GET", path, "", ""));
  return ParseList(What("GET", path), std::move(list));
}

absl::StatusOr<nlohmann::json> RestKubeClient::Create(const ResourceRef& ref,
                                                      const nlohmann::json& object) {
  if (!object.is_object()) return absl::InvalidArgumentError("Create needs a JSON object");
  HB_ASSIGN_OR_RETURN(std::string path, ResourcePath(WriteRef(ref, object)));
  HB_ASSIGN_OR_RETURN(std::string body, Serialize(object));
  return Call("POST", path + WriteQuery(""), kJson, body);
}

absl::StatusOr<nlohmann::json> RestKubeClient::Put(const ResourceRef& ref,
                                                   const nlohmann::json& object,
                                                   absl::string_view subresource) {
  std::string name = ObjectName(object);
  if (name.empty()) return absl::InvalidArgumentError("an update needs metadata.name");
  HB_ASSIGN_OR_RETURN(std::string path, ResourcePath(WriteRef(ref, object), name, subresource));
  HB_ASSIGN_OR_RETURN(std::string body, Serialize(object));
  return Call("PUT", path + WriteQuery(""), kJson, body);
}

absl::StatusOr<nlohmann::json> RestKubeClient::Update(const ResourceRef& ref,
                                                      const nlohmann::json& object) {
  return Put(ref, object, "");
}

absl::StatusOr<nlohmann::json> RestKubeClient::UpdateStatus(const ResourceRef& ref,
                                                            const nlohmann::json& object) {
  return Put(ref, object, "status");
}

absl::StatusOr<nlohmann::json> RestKubeClient::Patch(const ResourceRef& ref, absl::string_view name,
                                                     PatchType type, const nlohmann::json& patch,
                                                     const PatchOptions& options) {
  if (type == PatchType::kJson && !patch.is_array()) {
    return absl::InvalidArgumentError("a JSON patch must be an array of operations");
  }
  if (type != PatchType::kJson && !patch.is_object()) {
    return absl::InvalidArgumentError("a merge, strategic or apply patch must be a JSON object");
  }
  std::string manager =
      options.field_manager.empty() ? options_.field_manager : options.field_manager;
  if (type == PatchType::kApply && manager.empty()) {
    return absl::InvalidArgumentError("server-side apply needs a field manager");
  }
  if (options.force && type != PatchType::kApply) {
    return absl::InvalidArgumentError("force applies only to server-side apply");
  }
  if (name.empty()) return absl::InvalidArgumentError("Patch needs an object name");
  HB_ASSIGN_OR_RETURN(std::string path, ResourcePath(ref, name, options.subresource));
  absl::StrAppend(&path,
                  EncodeQuery({{"fieldManager", manager}, {"force", options.force ? "true" : ""}}));
  HB_ASSIGN_OR_RETURN(std::string body, Serialize(patch));
  return Call("PATCH", path, PatchContentType(type), body);
}

absl::Status RestKubeClient::Delete(const ResourceRef& ref, absl::string_view name,
                                    const DeleteOptions& options) {
  if (name.empty()) return absl::InvalidArgumentError("Delete needs an object name");
  HB_ASSIGN_OR_RETURN(std::string path, ResourcePath(ref, name));
  std::string body;
  std::string content_type;
  if (!options.propagation_policy.empty() || !options.resource_version.empty() ||
      !options.uid.empty()) {
    nlohmann::json delete_options = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (!options.propagation_policy.empty()) {
      delete_options["propagationPolicy"] = options.propagation_policy;
    }
    if (!options.resource_version.empty()) {
      delete_options["preconditions"]["resourceVersion"] = options.resource_version;
    }
    if (!options.uid.empty()) delete_options["preconditions"]["uid"] = options.uid;
    HB_ASSIGN_OR_RETURN(body, Serialize(delete_options));
    content_type = kJson;
  }
  return Call("DELETE", path, content_type, body).status();
}

}  // namespace hb::kube
